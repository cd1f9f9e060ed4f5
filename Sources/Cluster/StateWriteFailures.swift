import Foundation

/// Counts a parameter server's failed state writes in a row, so that a full or broken disk is
/// reported at every failure and stops the run after `limit` failures in a row, before the state
/// on disk falls far behind; the last state written whole stays on disk.
public final class StateWriteFailures: @unchecked Sendable {
    // Unchecked: every mutable field is guarded by `lock`.
    private let lock = NSLock()
    private var inRow = 0
    private var observer: (@Sendable (String, Int) -> Void)?
    private var reason: String?

    /// The failures in a row that stop the run.
    public let limit: Int

    /// Counts up to `limit` failures in a row.
    public init(limit: Int = 3) {
        precondition(limit >= 1, "the limit of failed state writes must be at least 1")
        self.limit = limit
    }

    /// Calls `observer` with the error's text and the failures in a row at every failed write.
    public func observe(_ observer: @escaping @Sendable (String, Int) -> Void) {
        lock.withLock { self.observer = observer }
    }

    /// Why the run was stopped, once `limit` writes in a row failed.
    public var stopReason: String? { lock.withLock { reason } }

    /// Records a successful write: the count in a row starts again.
    public func succeeded() { lock.withLock { inRow = 0 } }

    /// Records a failed write of `path`; returns the reason to stop the run once `limit` failed in a row.
    public func failed(_ error: any Error, path: String) -> String? {
        let (count, observer, reason) = lock.withLock { () -> (Int, (@Sendable (String, Int) -> Void)?, String?) in
            inRow += 1
            if inRow >= limit, self.reason == nil {
                self.reason = "\(inRow) state writes to \(path) failed in a row (the last: \(error)); "
                    + "the last state written whole is kept"
            }
            return (inRow, self.observer, inRow >= limit ? self.reason : nil)
        }
        observer?("\(error)", count)
        return reason
    }
}
