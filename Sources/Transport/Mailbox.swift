import Foundation

/// The messages a transport receives, handed to a single consumer that waits with a deadline.
///
/// The transport's thread puts messages in and expires a waiter whose deadline has passed (it sleeps
/// no longer than `waiterDeadline`), so a wait costs no timer task. Thread-safe.
public final class Mailbox<Message: Sendable>: @unchecked Sendable {
    // Unchecked: every mutable field is guarded by `lock`.
    private let lock = NSLock()
    private var queue: [Message] = []
    private var head = 0
    private var finished = false
    /// Set by `interrupt()`: the current or next wait returns nil at once, once.
    private var interrupted = false
    private var lastDrained: ContinuousClock.Instant?
    private var waiter: (deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Message?, Never>)?
    /// Called after a waiter is registered, so the transport recomputes how long it may sleep.
    private let onWait: @Sendable () -> Void

    public init(onWait: @escaping @Sendable () -> Void = {}) {
        self.onWait = onWait
    }

    /// Whether messages are waiting to be read.
    public var hasQueued: Bool {
        lock.withLock { head < queue.count }
    }

    /// When the transport last found its socket empty: every message that reached the socket before then
    /// is in this mailbox (or has been read from it).
    public var drainedAt: ContinuousClock.Instant? {
        lock.withLock { lastDrained }
    }

    /// Records that the socket held nothing more at `instant`.
    public func noteDrained(at instant: ContinuousClock.Instant) {
        lock.withLock { lastDrained = instant }
    }

    /// Whether the socket has been closed and nothing is left to read.
    public var isFinished: Bool {
        lock.withLock { finished && head == queue.count }
    }

    /// The next message, or nil if none arrives before `deadline` or the socket has been closed.
    ///
    /// Runs on the caller's actor (`isolation`), so an actor on the transport's executor resumes right
    /// on the transport's thread instead of hopping through the global pool and back.
    public func next(before deadline: ContinuousClock.Instant, isolation: isolated (any Actor)? = #isolation) async -> Message? {
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
    public var waiterDeadline: ContinuousClock.Instant? {
        lock.withLock { waiter?.deadline }
    }

    /// Hands `message` to the waiting consumer, or queues them.
    public func put(_ message: Message) {
        let continuation = lock.withLock { () -> CheckedContinuation<Message?, Never>? in
            if let waiter {
                self.waiter = nil
                return waiter.continuation
            }
            queue.append(message)
            return nil
        }
        continuation?.resume(returning: message)
    }

    /// Ends the consumer's wait with nil if its deadline is at or before `now`.
    public func expire(now: ContinuousClock.Instant) {
        let continuation = lock.withLock { () -> CheckedContinuation<Message?, Never>? in
            guard let waiter, waiter.deadline <= now else { return nil }
            self.waiter = nil
            return waiter.continuation
        }
        continuation?.resume(returning: nil)
    }

    /// Ends the consumer's current wait with nil, or its next one if it is not waiting.
    public func interrupt() {
        let continuation = lock.withLock { () -> CheckedContinuation<Message?, Never>? in
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
    public func finish() {
        let continuation = lock.withLock { () -> CheckedContinuation<Message?, Never>? in
            finished = true
            defer { waiter = nil }
            return waiter?.continuation
        }
        continuation?.resume(returning: nil)
    }

    /// Removes the oldest queued message; the caller holds `lock`.
    private func takeLocked() -> Message? {
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
