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
    private var waiter: (deadline: ContinuousClock.Instant, look: Int, continuation: CheckedContinuation<Message?, Never>)?
    /// Counts the transport's looks for messages (`startLooking()`); a waiter notes the count it began at.
    private var looks = 0
    /// Called after a waiter is registered, so the transport recomputes how long it may sleep.
    private let onWait: @Sendable () -> Void

    public init(onWait: @escaping @Sendable () -> Void = {}) {
        self.onWait = onWait
    }

    /// Whether the socket has been closed and nothing is left to read.
    public var isFinished: Bool {
        lock.withLock { finished && head == queue.count }
    }

    /// The next message, or nil if none arrives before `deadline` or the socket has been closed.
    ///
    /// A deadline that has passed is still the transport thread's to expire, after it has looked for
    /// messages (a socket's are put here first): a nil means nothing that reached the transport before
    /// the call is left unread. Runs on the caller's actor (`isolation`), so an actor on the
    /// transport's executor resumes right on the transport's thread instead of hopping through the
    /// global pool and back.
    public func next(before deadline: ContinuousClock.Instant, isolation: isolated (any Actor)? = #isolation) async -> Message? {
        let message: Message? = await withCheckedContinuation { (continuation: CheckedContinuation<Message?, Never>) in
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
                if finished {
                    continuation.resume(returning: nil)
                    return false
                }
                waiter = (deadline, looks, continuation)
                return true
            }
            if registered { onWait() }
        }
        // The message was made on the transport's thread and handed over by resuming this wait: taking
        // the lock the thread released after removing the waiter makes that hand-off one that
        // ThreadSanitizer sees (the continuation's own is invisible to it).
        lock.withLock {}
        return message
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

    /// Called by a transport that receives in rounds (a socket's) before it looks for messages; pass
    /// what it returns to `expire(now:looked:)` once the messages found are put here.
    public func startLooking() -> Int {
        lock.withLock {
            looks += 1
            return looks
        }
    }

    /// Ends the consumer's wait with nil if its deadline is at or before `now` and it began before the
    /// look `looked` (from `startLooking()`); a transport whose senders put messages here themselves
    /// passes nothing: every message sent before the wait is here already.
    public func expire(now: ContinuousClock.Instant, looked: Int = .max) {
        let continuation = lock.withLock { () -> CheckedContinuation<Message?, Never>? in
            guard let waiter, waiter.deadline <= now, waiter.look < looked else { return nil }
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
