import Foundation
import Transport

/// A thread of its own that runs closures one at a time, in the order they were given.
///
/// A worker computes its steps on one, so the thread that drives its socket stays free to send
/// heartbeats however long a step takes; a parameter server runs its slow work on one (epoch
/// reports with their evaluation and checkpoint, state writes), so its socket thread keeps serving.
/// The thread ends once its owner lets go of it and the closures given are done.
final class SerialThread: Sendable {
    private let queue: Queue
    /// Why the thread could not be started (nil: it runs); the closures then run on the caller's thread.
    let startFailure: ThreadStartError?

    /// Starts a thread named `name` with the stack of a step's numeric code (the model's own buffers
    /// are on the heap). If the system cannot start one (a process at its memory or thread limit),
    /// the closures run on the caller's thread instead, as before there was a thread: slower to
    /// answer heartbeats, never stuck.
    init(name: String) {
        let queue = Queue()
        self.queue = queue
        do {
            try DedicatedThread.start(name: name) { queue.run() }
            startFailure = nil
        } catch {
            startFailure = error
        }
    }

    deinit {
        queue.stop()
    }

    /// Runs `work` on the thread after everything given before it.
    func submit(_ work: @escaping @Sendable () -> Void) {
        if startFailure != nil { work() } else { queue.append(work) }
    }

    /// Returns once everything given so far has run; the caller resumes on its own executor.
    func drained(isolation: isolated (any Actor)? = #isolation) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if startFailure != nil { continuation.resume() } else { queue.append { continuation.resume() } }
        }
    }

    /// The closures waiting to run and whether the owner let go, shared by the thread and its callers.
    private final class Queue: @unchecked Sendable {
        // Unchecked: `work` and `stopping` are guarded by `condition`.
        private let condition = NSCondition()
        private var work: [@Sendable () -> Void] = []
        private var stopping = false

        func append(_ job: @escaping @Sendable () -> Void) {
            condition.withLock {
                work.append(job)
                condition.signal()
            }
        }

        func stop() {
            condition.withLock {
                stopping = true
                condition.signal()
            }
        }

        func run() {
            while true {
                let batch: [@Sendable () -> Void] = condition.withLock {
                    while work.isEmpty && !stopping { condition.wait() }
                    defer { work.removeAll(keepingCapacity: true) }
                    return work
                }
                if batch.isEmpty { return }
                for job in batch { job() }
            }
        }
    }
}
