import Foundation

/// Where log lines go: standard error, after a live display (which draws on standard output) has cleared itself.
final class LogSink: @unchecked Sendable {
    // Unchecked: `beforeWrite` is guarded by `lock`, which also keeps lines whole.
    static let shared = LogSink()
    private let lock = NSLock()
    private var beforeWrite: (@Sendable () -> Void)?

    /// Calls `clear` before each line from now on (nil: none), so a display is not written over.
    func clearing(with clear: (@Sendable () -> Void)?) { lock.withLock { beforeWrite = clear } }

    /// Calls `clear` before each line from now on.
    func clearing(_ clear: @escaping @Sendable () -> Void) { clearing(with: clear) }

    func write(_ line: String) {
        lock.withLock {
            beforeWrite?()
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}
