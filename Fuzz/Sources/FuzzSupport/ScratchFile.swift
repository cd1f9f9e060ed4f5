import Foundation

/// A file in /dev/shm (memory) holding the current input, for parsers that read from a path.
public enum ScratchFile {
    /// The path of this process's scratch file named `name`.
    public static func path(_ name: String) -> String { "/dev/shm/actortrainer-fuzz-\(getpid())-\(name)" }

    /// Writes `input` to the scratch file `name` and returns its path.
    public static func write(_ input: UnsafeBufferPointer<UInt8>, name: String) -> String {
        let path = path(name)
        _ = FileManager.default.createFile(atPath: path, contents: Data(buffer: input))
        return path
    }
}
