import Foundation
import TestSupport

/// A tmpfs of a given size mounted on a fresh folder (needs root), for disk-full tests.
final class SmallFileSystem {
    /// The mount point.
    let path: String

    /// Whether this process may mount one.
    static var isAvailable: Bool { getuid() == 0 }

    /// Mounts a tmpfs of `size` (mount's syntax, e.g. "1m") on a new temporary folder.
    init(size: String) throws {
        path = temporaryPath("tmpfs")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path])
    }

    deinit {
        try? Self.run("/bin/umount", [path])
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes a filler file until the file system is full; returns the bytes written.
    @discardableResult
    func fillUp() -> Int {
        let descriptor = open(path + "/filler", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(descriptor) }
        let chunk = [UInt8](repeating: 0xAB, count: 4096)
        var total = 0
        while true {
            let written = chunk.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }
            if written <= 0 { break }
            total += written
        }
        return total
    }

    private static func run(_ tool: String, _ arguments: [String]) throws {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "\(tool) \(arguments.joined(separator: " ")) failed"])
        }
    }
}
