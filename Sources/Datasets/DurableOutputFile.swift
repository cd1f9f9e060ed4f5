import Engine
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written in pieces under a temporary name and then moved into place durably:
/// flushed to disk, renamed, and the folder flushed, as `DurableFile.write` does for whole buffers.
public final class DurableOutputFile {
    /// The path being written (the temporary name).
    public let path: String
    private var descriptor: Int32

    /// Opens `path` for writing: appended to when `append` is true and it exists, else created empty.
    public init(path: String, append: Bool) throws {
        self.path = path
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC)
        descriptor = open(path, flags, 0o644)
        guard descriptor >= 0 else {
            throw DatasetError(path: path, reason: "cannot be created: \(String(cString: strerror(errno)))")
        }
    }

    deinit { if descriptor >= 0 { systemClose(descriptor) } }

    /// Appends `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = systemWrite(descriptor, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw DatasetError(path: path, reason: "cannot be written: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// Appends `data`.
    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Flushes to disk and closes; the file stays under its temporary name.
    public func close() throws {
        guard descriptor >= 0 else { return }
        let flushed = fsync(descriptor) == 0
        let code = errno
        systemClose(descriptor)
        descriptor = -1
        guard flushed else { throw DatasetError(path: path, reason: "cannot be flushed to disk: \(String(cString: strerror(code)))") }
    }

    /// Flushes and closes the file, renames it to `finalPath` and flushes the folder so the rename survives a power cut.
    public func commit(to finalPath: String) throws {
        try close()
        try Self.moveDurably(path, to: finalPath)
    }

    /// Renames `source` to `destination` (same file system) and flushes the destination's folder.
    public static func moveDurably(_ source: String, to destination: String) throws {
        guard rename(source, destination) == 0 else {
            throw DatasetError(path: destination, reason: "cannot move \(source) into place: \(String(cString: strerror(errno)))")
        }
        DurableFile.flushFolder((destination as NSString).deletingLastPathComponent)
    }
}

/// The C library's `write(2)` (a name the methods above shadow).
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(descriptor, bytes, count)
    #else
    Darwin.write(descriptor, bytes, count)
    #endif
}

/// The C library's `close(2)` (a name the methods above shadow).
private func systemClose(_ descriptor: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(descriptor)
    #else
    _ = Darwin.close(descriptor)
    #endif
}
