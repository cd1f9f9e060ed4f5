import Foundation
import Testing

/// Runs each test it marks on a small pool of threads of its own instead of Swift's cooperative
/// pool: that pool has one thread per core (two here), so two tests that block for seconds
/// (decompressing real data, a gradient check, a socket wait that is meant to time out) stall
/// every asynchronous test beside them, whose clocks keep running into their timeouts. Marked
/// tests compete for the cores as any thread does, but never for the cooperative pool's threads.
public struct BlockingTrait: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        // A suite's own scope has nothing to run; each of its test cases gets the executor.
        guard testCase != nil else { return try await function() }
        try await withTaskExecutorPreference(BlockingTestExecutor.shared) { try await function() }
    }
}

extension Trait where Self == BlockingTrait {
    /// The test (or every test of the suite) blocks its thread for long: run it off the cooperative pool.
    public static var blocking: Self { BlockingTrait() }
}

/// A task executor of a few threads, each running one job at a time to its end, in the order the
/// jobs arrived.
final class BlockingTestExecutor: TaskExecutor, @unchecked Sendable {
    // Unchecked: `jobs` is read and written only while `condition` is locked.
    /// Three threads: more blocking tests at once on two cores would only slow each other.
    static let shared = BlockingTestExecutor(threads: 3)

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init(threads: Int) {
        for index in 0..<threads {
            // Named on the thread itself: a name set before start does not reach the system thread.
            let thread = Thread { [self] in
                Thread.current.name = "blocking test \(index)"
                self.serve()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func serve() -> Never {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
