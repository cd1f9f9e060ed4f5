import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes whole files so that a crash at any moment leaves either the old file or the new one.
public enum DurableFile {
    /// Writes `data` to a temporary file beside `path`, flushes it to disk, renames it over `path` and
    /// flushes the folder, so the rename itself survives a power cut; the temporary file is removed on failure.
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temporary = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw DurableFileError(path: path, operation: "create \(temporary)", code: errno) }
        var closed = false
        defer {
            if !closed { close(descriptor) }
        }
        do {
            try data.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = systemWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw DurableFileError(path: path, operation: "write", code: errno)
                    }
                    offset += written
                }
            }
            guard fsync(descriptor) == 0 else { throw DurableFileError(path: path, operation: "fsync", code: errno) }
            closed = true
            guard close(descriptor) == 0 else { throw DurableFileError(path: path, operation: "close", code: errno) }
            guard rename(temporary, path) == 0 else { throw DurableFileError(path: path, operation: "rename", code: errno) }
        } catch {
            unlink(temporary)
            throw error
        }
        // Make the rename durable: flush the folder's entry. A failure here leaves a complete file.
        flushFolder(folder)
    }

    /// Removes the temporary files that `write(_:to:)` leaves beside `path` when its process is killed
    /// mid-write (`.NAME.tmp-*`); call it only while no other process writes `path`. Returns their paths.
    public static func removeLeftovers(of path: String) -> [String] {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let prefix = "." + url.lastPathComponent + ".tmp-"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix(prefix) }
        return names.map { folder + "/" + $0 }.filter { unlink($0) == 0 }
    }

    /// Flushes `folder`'s entries to disk, so that a rename into it survives a crash (best effort).
    public static func flushFolder(_ folder: String) {
        let folderDescriptor = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            _ = fsync(folderDescriptor)
            close(folderDescriptor)
        }
    }
}

/// The C library's `write(2)` (a name that `DurableFile.write` would shadow).
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(descriptor, bytes, count)
    #else
    Darwin.write(descriptor, bytes, count)
    #endif
}

/// Why a durable write failed.
public struct DurableFileError: Error, CustomStringConvertible {
    /// The file that was to be written.
    public var path: String
    /// The step that failed.
    public var operation: String
    /// The `errno` value.
    public var code: Int32

    /// A sentence naming the file, the step and the system's reason.
    public var description: String {
        "cannot write \(path): \(operation) failed: \(String(cString: strerror(code)))"
    }
}
