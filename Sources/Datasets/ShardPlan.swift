/// Which samples each of N workers takes at each step of an epoch in synchronous data-parallel
/// training, so that N workers of batch b see exactly what one process of batch N·b sees.
///
/// Step k of an epoch covers positions k·N·b ..< (k+1)·N·b of the epoch's order (a seeded
/// permutation, `DataLoader.order`); worker r takes the r-th slice of b. The last global batch may
/// hold fewer than N·b samples: it is cut the same way, so later workers get a short or empty
/// slice, and a server weighting each gradient by its sample count reproduces the big batch's mean.
public struct ShardPlan: Sendable, Equatable {
    /// The number of samples in the training set.
    public let sampleCount: Int
    /// The number of workers N.
    public let workerCount: Int
    /// The batch size b of each worker; the global batch is N·b.
    public let batchSizePerWorker: Int

    /// Creates the plan for one epoch of `sampleCount` samples over `workerCount` workers.
    public init(sampleCount: Int, workerCount: Int, batchSizePerWorker: Int) {
        precondition(sampleCount >= 0 && workerCount > 0 && batchSizePerWorker > 0,
                     "a shard plan needs a non-negative sample count and positive worker count and batch size")
        self.sampleCount = sampleCount
        self.workerCount = workerCount
        self.batchSizePerWorker = batchSizePerWorker
    }

    /// The samples all workers together take per step, N·b.
    public var globalBatchSize: Int { workerCount * batchSizePerWorker }

    /// The number of steps in an epoch, the last one possibly partial.
    public var stepsPerEpoch: Int { (sampleCount + globalBatchSize - 1) / globalBatchSize }

    /// The positions in the epoch's order that worker `rank` takes at `step` (0-based); may be empty.
    public func positions(step: Int, rank: Int) -> Range<Int> {
        precondition(step >= 0 && step < stepsPerEpoch, "step \(step) outside 0..<\(stepsPerEpoch)")
        precondition(rank >= 0 && rank < workerCount, "rank \(rank) outside 0..<\(workerCount)")
        let start = min(step * globalBatchSize + rank * batchSizePerWorker, sampleCount)
        let end = min(start + batchSizePerWorker, sampleCount)
        return start..<end
    }

    /// The positions of the whole global batch at `step`, as one process with batch N·b takes them.
    public func globalPositions(step: Int) -> Range<Int> {
        precondition(step >= 0 && step < stepsPerEpoch, "step \(step) outside 0..<\(stepsPerEpoch)")
        return step * globalBatchSize..<min((step + 1) * globalBatchSize, sampleCount)
    }
}
