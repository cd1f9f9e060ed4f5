import Foundation

/// Where log lines go: standard error, above a live display (which draws on standard output).
final class LogSink: @unchecked Sendable {
    // Unchecked: `around` is guarded by `lock`, which also keeps lines whole.
    static let shared = LogSink()
    private let lock = NSLock()
    private var around: (@Sendable (() -> Void) -> Void)?

    /// From now on each line is written inside `write` (nil: directly), for a display that clears
    /// itself and draws nothing while the line is written.
    func printing(around write: (@Sendable (() -> Void) -> Void)?) { lock.withLock { around = write } }

    func write(_ line: String) {
        lock.withLock {
            let write = { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            if let around { around(write) } else { write() }
        }
    }
}
