import Foundation

/// A stop asked for from outside the actor (a signal handler), read by its run loop.
final class StopRequest: @unchecked Sendable {
    // Unchecked: `stored` is guarded by `lock`.
    private let lock = NSLock()
    private var stored: String?

    private var keepsState = false

    var reason: String? { lock.withLock { stored } }
    /// Whether the state file must stay as it was when the stop was asked for.
    var keepState: Bool { lock.withLock { keepsState } }

    func set(_ reason: String, savingState: Bool) {
        lock.withLock {
            if stored == nil { stored = reason }
            keepsState = keepsState || !savingState
        }
    }
}
