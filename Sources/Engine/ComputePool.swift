import Dispatch
import Foundation
import Synchronization

/// A fixed set of threads that split one piece of numeric work (a matrix product, an optimiser
/// step) into parts, the caller doing part 0.
///
/// OpenBLAS keeps small products such as 64×784·784×128 on one thread; splitting them by output
/// columns into single-threaded calls uses every core. Workers spin briefly between parts of a
/// training step and sleep on a semaphore when idle. Calls made while the pool is busy (from
/// another thread) run inline, so concurrent users stay correct.
public final class ComputePool: Sendable {
    /// The process-wide pool, sized to the machine's cores.
    public static let shared = ComputePool(threadCount: ProcessInfo.processInfo.activeProcessorCount)

    /// The number of threads that share work, the caller included.
    public var threadCount: Int { activeCount.load(ordering: .relaxed) }

    private let workers: [Worker]
    private let activeCount: Atomic<Int>
    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let job = JobSlot()

    private final class Worker: Sendable {
        let sleeping = Atomic<Bool>(false)
        let wake = DispatchSemaphore(value: 0)
    }

    private final class JobSlot: @unchecked Sendable {
        // Written by the caller before `generation` is bumped (release), read by workers after
        // they observe the bump (acquire); cleared only once every worker has finished.
        var body: ((Int) -> Void)?
        var parts = 0
    }

    /// Creates a pool of `threadCount` threads in all (`threadCount − 1` background threads).
    public init(threadCount: Int) {
        let count = max(1, threadCount)
        activeCount = Atomic(count)
        workers = (1..<count).map { _ in Worker() }
        if count > 1 { BLAS.setLibraryThreadCount(1) }
        for (index, worker) in workers.enumerated() {
            let thread = Thread { [self] in self.workerLoop(index: index + 1, worker: worker) }
            thread.name = "engine-compute-\(index + 1)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Limits how many of the pool's threads take part (1 runs everything on the caller).
    public func setActiveThreadCount(_ count: Int) {
        activeCount.store(min(max(1, count), workers.count + 1), ordering: .relaxed)
    }

    /// Runs `body(part)` for every part in 0..<parts, spread over the pool; returns when all are done.
    public func run(parts: Int, _ body: (Int) -> Void) {
        let threads = threadCount
        guard parts > 1, threads > 1,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for part in 0..<parts { body(part) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { escapable in
            job.body = escapable
            job.parts = parts
            remaining.store(workers.count, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            for worker in workers where worker.sleeping.exchange(false, ordering: .sequentiallyConsistent) {
                worker.wake.signal()
            }
            runShare(index: 0, threads: workers.count + 1)
            var spins = 0
            while remaining.load(ordering: .acquiring) > 0 {
                // A worker descheduled by another process must get the core back soon.
                spins += 1
                if spins > 4096 { sched_yield() }
            }
            job.body = nil
        }
    }

    /// Runs `body(range)` over 0..<count cut into one contiguous range per thread; small counts run inline.
    public func forEachRange(_ count: Int, minimumPerThread: Int = 8192, _ body: (Range<Int>) -> Void) {
        let parts = min(threadCount, max(1, count / max(minimumPerThread, 1)))
        guard parts > 1 else {
            body(0..<count)
            return
        }
        run(parts: parts) { part in
            body(count * part / parts..<count * (part + 1) / parts)
        }
    }

    private func runShare(index: Int, threads: Int) {
        guard let body = job.body else { return }
        // Thread `index` takes parts index, index + threads, …; inactive threads take none.
        let active = min(threadCount, threads)
        guard index < active else { return }
        var part = index
        while part < job.parts {
            body(part)
            part += active
        }
    }

    private func workerLoop(index: Int, worker: Worker) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen && spins < 100_000 {
                spins += 1
                if spins & 1023 == 0 { sched_yield() }
            }
            if generation.load(ordering: .acquiring) == seen {
                worker.sleeping.store(true, ordering: .sequentiallyConsistent)
                if generation.load(ordering: .sequentiallyConsistent) != seen {
                    // Work arrived while going to sleep: either cancel the sleep, or the caller
                    // already saw it and signalled, and that signal must be consumed.
                    if !worker.sleeping.exchange(false, ordering: .sequentiallyConsistent) { worker.wake.wait() }
                } else {
                    worker.wake.wait()
                }
                continue
            }
            seen = generation.load(ordering: .acquiring)
            runShare(index: index, threads: workers.count + 1)
            remaining.subtract(1, ordering: .releasing)
        }
    }
}
