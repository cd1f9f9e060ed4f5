import Foundation
import ZeroMQ

/// The messages a `SocketPump` receives, handed to a single consumer that waits with a deadline.
///
/// The pump thread puts messages in and expires a waiter whose deadline has passed (it sleeps in
/// `zmq_poll` no longer than the waiter's deadline), so a wait costs no timer task. Thread-safe.
final class Mailbox: @unchecked Sendable {
    // Unchecked: every mutable field is guarded by `lock`.
    private let lock = NSLock()
    private var queue: [[ReceivedFrame]] = []
    private var head = 0
    private var finished = false
    /// Set by `interrupt()`: the current or next wait returns nil at once, once.
    private var interrupted = false
    private var lastDrained: ContinuousClock.Instant?
    private var waiter: (deadline: ContinuousClock.Instant, continuation: CheckedContinuation<[ReceivedFrame]?, Never>)?
    /// Called after a waiter is registered, so the pump recomputes how long it may sleep.
    private let onWait: @Sendable () -> Void

    init(onWait: @escaping @Sendable () -> Void = {}) {
        self.onWait = onWait
    }

    /// Whether messages are waiting to be read.
    var hasQueued: Bool {
        lock.withLock { head < queue.count }
    }

    /// When the pump last found its socket empty: every message that reached the socket before then
    /// is in this mailbox (or has been read from it).
    var drainedAt: ContinuousClock.Instant? {
        lock.withLock { lastDrained }
    }

    /// Records that the socket held nothing more at `instant`.
    func noteDrained(at instant: ContinuousClock.Instant) {
        lock.withLock { lastDrained = instant }
    }

    /// Whether the socket has been closed and nothing is left to read.
    var isFinished: Bool {
        lock.withLock { finished && head == queue.count }
    }

    /// The next message, or nil if none arrives before `deadline` or the socket has been closed.
    ///
    /// Runs on the caller's actor (`isolation`), so an actor on the pump's executor resumes right on
    /// the pump thread instead of hopping through the global pool and back.
    func next(before deadline: ContinuousClock.Instant, isolation: isolated (any Actor)? = #isolation) async -> [ReceivedFrame]? {
        await withCheckedContinuation { continuation in
            let registered: Bool = lock.withLock {
                precondition(waiter == nil, "a mailbox has one consumer")
                if interrupted {
                    interrupted = false
                    continuation.resume(returning: nil)
                    return false
                }
                if let frames = takeLocked() {
                    continuation.resume(returning: frames)
                    return false
                }
                if finished || ContinuousClock.now >= deadline {
                    continuation.resume(returning: nil)
                    return false
                }
                waiter = (deadline, continuation)
                return true
            }
            if registered { onWait() }
        }
    }

    /// The deadline of the waiting consumer, if any.
    var waiterDeadline: ContinuousClock.Instant? {
        lock.withLock { waiter?.deadline }
    }

    /// Hands `frames` to the waiting consumer, or queues them.
    func put(_ frames: [ReceivedFrame]) {
        let continuation = lock.withLock { () -> CheckedContinuation<[ReceivedFrame]?, Never>? in
            if let waiter {
                self.waiter = nil
                return waiter.continuation
            }
            queue.append(frames)
            return nil
        }
        continuation?.resume(returning: frames)
    }

    /// Ends the consumer's wait with nil if its deadline is at or before `now`.
    func expire(now: ContinuousClock.Instant) {
        let continuation = lock.withLock { () -> CheckedContinuation<[ReceivedFrame]?, Never>? in
            guard let waiter, waiter.deadline <= now else { return nil }
            self.waiter = nil
            return waiter.continuation
        }
        continuation?.resume(returning: nil)
    }

    /// Ends the consumer's current wait with nil, or its next one if it is not waiting.
    func interrupt() {
        let continuation = lock.withLock { () -> CheckedContinuation<[ReceivedFrame]?, Never>? in
            guard let waiter else {
                interrupted = true
                return nil
            }
            self.waiter = nil
            return waiter.continuation
        }
        continuation?.resume(returning: nil)
    }

    /// Marks the socket closed: a waiting consumer gets nil, later reads drain what is queued.
    func finish() {
        let continuation = lock.withLock { () -> CheckedContinuation<[ReceivedFrame]?, Never>? in
            finished = true
            defer { waiter = nil }
            return waiter?.continuation
        }
        continuation?.resume(returning: nil)
    }

    /// Removes the oldest queued message; the caller holds `lock`.
    private func takeLocked() -> [ReceivedFrame]? {
        guard head < queue.count else { return nil }
        let frames = queue[head]
        head += 1
        if head > 64 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return frames
    }
}
