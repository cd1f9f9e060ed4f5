import Foundation
import ZeroMQ

/// The messages of one `SocketPump`, handed to a single consumer that waits with a deadline.
///
/// A feeder task drains the pump's `incoming` stream into a queue, so a waiter that times out
/// never cancels the stream itself (cancelling an `AsyncStream` iteration would end it for good).
final class Mailbox: @unchecked Sendable {
    // Unchecked: every mutable field is guarded by `lock`.
    private let lock = NSLock()
    private var queue: [[ReceivedFrame]] = []
    private var head = 0
    private var finished = false
    private var waiter: (id: UInt64, continuation: CheckedContinuation<[ReceivedFrame]?, Never>)?
    private var timer: Task<Void, Never>?
    private var nextID: UInt64 = 0

    /// Starts draining `stream` into the mailbox.
    init(_ stream: AsyncStream<[ReceivedFrame]>) {
        Task { [self] in
            for await frames in stream { put(frames) }
            finish()
        }
    }

    /// Whether the pump's stream has ended (the socket was closed) and nothing is left to read.
    var isFinished: Bool {
        lock.withLock { finished && head == queue.count }
    }

    /// The next message, or nil if none arrives before `deadline` or the stream has ended.
    func next(before deadline: ContinuousClock.Instant) async -> [ReceivedFrame]? {
        await withCheckedContinuation { continuation in
            let id: UInt64? = lock.withLock {
                precondition(waiter == nil, "a mailbox has one consumer")
                if let frames = takeLocked() {
                    continuation.resume(returning: frames)
                    return nil
                }
                if finished || ContinuousClock.now >= deadline {
                    continuation.resume(returning: nil)
                    return nil
                }
                nextID += 1
                waiter = (nextID, continuation)
                return nextID
            }
            guard let id else { return }
            let expiry = Task { [self] in
                try? await Task.sleep(until: deadline, clock: .continuous)
                expire(id)
            }
            lock.withLock {
                if waiter?.id == id { timer = expiry } else { expiry.cancel() }
            }
        }
    }

    private func put(_ frames: [ReceivedFrame]) {
        let (continuation, expiry) = lock.withLock { () -> (CheckedContinuation<[ReceivedFrame]?, Never>?, Task<Void, Never>?) in
            if let waiter {
                self.waiter = nil
                defer { timer = nil }
                return (waiter.continuation, timer)
            }
            queue.append(frames)
            return (nil, nil)
        }
        expiry?.cancel()
        continuation?.resume(returning: frames)
    }

    private func finish() {
        let continuation = lock.withLock { () -> CheckedContinuation<[ReceivedFrame]?, Never>? in
            finished = true
            defer { waiter = nil }
            return waiter?.continuation
        }
        continuation?.resume(returning: nil)
    }

    private func expire(_ id: UInt64) {
        let continuation = lock.withLock { () -> CheckedContinuation<[ReceivedFrame]?, Never>? in
            guard let waiter, waiter.id == id else { return nil }
            self.waiter = nil
            timer = nil
            return waiter.continuation
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
