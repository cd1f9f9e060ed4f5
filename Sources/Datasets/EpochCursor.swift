/// Where data-parallel training stands in its epochs, and how the next global batch is cut among
/// the workers taking part, so that the workers can change between steps without a sample of the
/// epoch being skipped or taken twice.
///
/// A step with N workers of batch b covers positions offset ..< offset + N·b of the epoch's order
/// (a seeded permutation, `DataLoader.order`), clipped to the epoch; the worker in slot s takes the
/// s-th slice of b. After the step the offset moves on by N·b, and past the end of the epoch to the
/// next epoch's start. With the same N throughout, step k of an epoch starts at k·N·b: `ShardPlan`.
public struct EpochCursor: Sendable, Equatable {
    /// The number of samples in the training set.
    public let sampleCount: Int
    /// The batch size b of each worker.
    public let batchSizePerWorker: Int
    /// The epoch the next step belongs to, counted from 0.
    public private(set) var epoch: Int
    /// The position in the epoch's order where the next step's global batch starts.
    public private(set) var offset: Int

    /// A cursor at `offset` of epoch `epoch` (0-based).
    public init(sampleCount: Int, batchSizePerWorker: Int, epoch: Int = 0, offset: Int = 0) {
        precondition(sampleCount > 0 && batchSizePerWorker > 0, "an epoch cursor needs samples and a positive batch size")
        precondition(epoch >= 0 && offset >= 0 && offset < sampleCount, "offset \(offset) outside the epoch of \(sampleCount) samples")
        self.sampleCount = sampleCount
        self.batchSizePerWorker = batchSizePerWorker
        self.epoch = epoch
        self.offset = offset
    }

    /// The cursor at step `step` (counted over all epochs) of a plan whose workers never change.
    public init(plan: ShardPlan, step: Int) {
        self.init(sampleCount: plan.sampleCount, batchSizePerWorker: plan.batchSizePerWorker,
                  epoch: step / plan.stepsPerEpoch, offset: (step % plan.stepsPerEpoch) * plan.globalBatchSize)
    }

    /// The positions the worker in `slot` of `worldSize` takes at the next step; may be empty.
    public func positions(slot: Int, worldSize: Int) -> Range<Int> {
        precondition(slot >= 0 && slot < worldSize, "slot \(slot) outside 0..<\(worldSize)")
        let start = min(offset + slot * batchSizePerWorker, sampleCount)
        return start..<min(start + batchSizePerWorker, sampleCount)
    }

    /// The positions the whole next step covers with `worldSize` workers.
    public func globalPositions(worldSize: Int) -> Range<Int> {
        offset..<min(offset + worldSize * batchSizePerWorker, sampleCount)
    }

    /// Whether the next step with `worldSize` workers is the last of its epoch.
    public func isLastStepOfEpoch(worldSize: Int) -> Bool {
        offset + worldSize * batchSizePerWorker >= sampleCount
    }

    /// Moves past one step of `worldSize` workers, into the next epoch after the last step of one.
    public mutating func advance(worldSize: Int) {
        if isLastStepOfEpoch(worldSize: worldSize) {
            epoch += 1
            offset = 0
        } else {
            offset += worldSize * batchSizePerWorker
        }
    }
}
