import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Checks, before any training, that each file a run will write can be written: its folder exists,
/// is a folder and is writable, and the path itself is not a folder.
enum OutputPaths {
    /// Throws a `CLIError` naming the flag and the path of the first output that cannot be written.
    static func check(_ outputs: [(flag: String, path: String?)]) throws {
        for case let (flag, path?) in outputs {
            let url = URL(fileURLWithPath: path)
            let folder = url.deletingLastPathComponent().path
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) else {
                throw CLIError("\(flag) \(path): the folder \(folder) does not exist")
            }
            guard isFolder.boolValue else { throw CLIError("\(flag) \(path): \(folder) is not a folder") }
            guard access(folder, W_OK) == 0 else {
                throw CLIError("\(flag) \(path): cannot write into \(folder): \(String(cString: strerror(errno)))")
            }
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
                throw CLIError("\(flag) \(path): is a folder, not a file")
            }
        }
    }
}

extension TrainingOptions {
    /// The files this run writes, by flag.
    var outputs: [(flag: String, path: String?)] {
        [("--checkpoint", checkpoint), ("--metrics", metrics), ("--plot", plot)]
    }
}
