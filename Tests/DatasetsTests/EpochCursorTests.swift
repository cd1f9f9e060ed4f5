import Testing
import TestSupport
@testable import Datasets

/// The cursor that lets the workers change between steps without skipping or repeating a sample.
@Suite(.blocking) struct EpochCursorTests {
    @Test func withFixedWorkersItIsTheShardPlan() {
        let plan = ShardPlan(sampleCount: 70, workerCount: 3, batchSizePerWorker: 8)
        var cursor = EpochCursor(sampleCount: 70, batchSizePerWorker: 8)
        for step in 0..<(3 * plan.stepsPerEpoch) {
            #expect(cursor == EpochCursor(plan: plan, step: step))
            #expect(cursor.epoch == step / plan.stepsPerEpoch)
            for slot in 0..<3 {
                #expect(cursor.positions(slot: slot, worldSize: 3) == plan.positions(step: step % plan.stepsPerEpoch, rank: slot))
            }
            #expect(cursor.globalPositions(worldSize: 3) == plan.globalPositions(step: step % plan.stepsPerEpoch))
            #expect(cursor.isLastStepOfEpoch(worldSize: 3) == (step % plan.stepsPerEpoch == plan.stepsPerEpoch - 1))
            cursor.advance(worldSize: 3)
        }
    }

    /// Three workers, then two (one died), then four (two joined): every position of the epoch is taken once.
    @Test func changingWorkersCoverTheEpochExactlyOnce() {
        var cursor = EpochCursor(sampleCount: 100, batchSizePerWorker: 7)
        var taken: [Int] = []
        let worlds = [3, 3, 2, 2, 4, 4, 4, 4]
        for world in worlds where cursor.epoch == 0 {
            for slot in 0..<world { taken += cursor.positions(slot: slot, worldSize: world) }
            cursor.advance(worldSize: world)
        }
        #expect(taken == Array(0..<100))
        #expect(cursor.epoch == 1 && cursor.offset == 0)
    }

    @Test func theLastStepMayLeaveLaterSlotsEmpty() {
        let cursor = EpochCursor(sampleCount: 20, batchSizePerWorker: 8, epoch: 2, offset: 16)
        #expect((0..<3).map { cursor.positions(slot: $0, worldSize: 3) } == [16..<20, 20..<20, 20..<20])
        #expect(cursor.isLastStepOfEpoch(worldSize: 3))
    }
}
