import Foundation

/// A serial executor on a thread of its own that also expires its mailbox's waits: the thread runs
/// the owning actor's jobs and sleeps on a condition until a job arrives or the waiter's deadline.
/// `stop()` lets the thread end once no job is left; jobs enqueued later still run (on a fresh wake).
final class ThreadExecutor<Message: Sendable>: SerialExecutor, @unchecked Sendable {
    // Unchecked: `jobs`, `released` and `thread` are guarded by `condition`.
    private let condition: NSCondition
    private var jobs: [UnownedJob] = []
    private var released = false
    private var thread: pthread_t?
    private let mailbox: Mailbox<Message>

    /// Starts the thread named `name`, expiring waits on `mailbox`; `condition` is the one the
    /// mailbox's `onWait` signals. Throws if the thread cannot be started.
    init(name: String, mailbox: Mailbox<Message>, condition: NSCondition) throws {
        self.mailbox = mailbox
        self.condition = condition
        let started = DispatchSemaphore(value: 0)
        try DedicatedThread.start(name: name, stackSize: DedicatedThread.messagingStackSize) { [self] in
            condition.withLock { self.thread = pthread_self() }
            started.signal()
            run()
        }
        started.wait()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.withLock {
            jobs.append(unowned)
            condition.signal()
        }
    }

    func checkIsolated() {
        precondition(isCurrentThread, "this code must run on its transport's thread")
    }

    /// Whether the caller runs on the executor's thread.
    var isCurrentThread: Bool {
        guard let thread = condition.withLock({ thread }) else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    /// Lets the thread end once its queue is empty (call when the owner is gone).
    func release() {
        condition.withLock {
            released = true
            condition.signal()
        }
    }

    private func run() {
        let executor = asUnownedSerialExecutor()
        while true {
            let batch: [UnownedJob] = condition.withLock {
                while jobs.isEmpty && !released {
                    if let deadline = mailbox.waiterDeadline {
                        let remaining = deadline - ContinuousClock.now
                        if remaining <= .zero { break }
                        _ = condition.wait(until: Date(timeIntervalSinceNow: remaining / .seconds(1)))
                        if ContinuousClock.now >= deadline { break }
                    } else {
                        condition.wait()
                    }
                }
                defer { jobs.removeAll(keepingCapacity: true) }
                return jobs
            }
            for job in batch { job.runSynchronously(on: executor) }
            mailbox.expire(now: .now)
            if batch.isEmpty && condition.withLock({ released && jobs.isEmpty }) { return }
        }
    }
}
