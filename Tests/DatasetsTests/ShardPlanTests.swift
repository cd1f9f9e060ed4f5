import Engine
import Testing
import TestSupport
@testable import Datasets

/// The sharding that makes synchronous data-parallel training equal to one process with the big batch.
@Suite(.blocking) struct ShardPlanTests {
    @Test func workersCoverEachGlobalBatchInOrderIncludingThePartialLastOne() {
        let plan = ShardPlan(sampleCount: 70, workerCount: 3, batchSizePerWorker: 8)
        #expect(plan.globalBatchSize == 24)
        #expect(plan.stepsPerEpoch == 3)
        for step in 0..<plan.stepsPerEpoch {
            let slices = (0..<3).map { plan.positions(step: step, rank: $0) }
            #expect(slices.flatMap { Array($0) } == Array(plan.globalPositions(step: step)))
        }
        // The last global batch holds 22 samples: 8, 8 and 6.
        #expect((0..<3).map { plan.positions(step: 2, rank: $0).count } == [8, 8, 6])
        // With 66 samples the last holds 18: the third worker gets none but still has a (empty) slice.
        let short = ShardPlan(sampleCount: 66, workerCount: 3, batchSizePerWorker: 8)
        #expect((0..<3).map { short.positions(step: 2, rank: $0).count } == [8, 8, 2])
        let empty = ShardPlan(sampleCount: 50, workerCount: 3, batchSizePerWorker: 8)
        #expect((0..<3).map { empty.positions(step: 2, rank: $0) } == [48..<50, 50..<50, 50..<50])
    }

    /// N replicas computing mean-loss gradients on their shards, averaged with weights n_r / Σ n, then one
    /// optimiser step: after 20 steps (crossing an epoch end with a partial batch) the weights equal one
    /// process training with batch N·b on the same order, up to float rounding.
    @Test(arguments: ["sgd", "adam"])
    func shardedGradientsEqualTheBigBatch(optimizerName: String) {
        let features = randomFloats(90 * 12, seed: 41)
        let labels = (0..<90).map { Int32(($0 * 7) % 5) }
        let set = LabeledDataset(name: "random", sampleShape: [12], features: features, labels: labels, classCount: 5)
        func network() -> Model {
            Model(Sequential([("fc1", Linear(12, 16) as any Layer), ("relu", ReLU()), ("fc2", Linear(16, 5))]), seed: 3)
        }
        func optimizer(_ count: Int) -> any Optimizer {
            optimizerName == "sgd" ? SGD(parameterCount: count, learningRate: 0.05, momentum: 0.9)
                                   : Adam(parameterCount: count, learningRate: 0.01)
        }
        let workers = 2, batch = 16
        let plan = ShardPlan(sampleCount: set.count, workerCount: workers, batchSizePerWorker: batch)
        let single = network(), singleOptimizer = optimizer(single.parameterCount)
        let replicas = (0..<workers).map { _ in network() }
        let server = network(), serverOptimizer = optimizer(server.parameterCount)
        let loaders = (0..<workers).map { _ in DataLoader(set, batchSize: batch, shuffle: true, seed: 9) }
        let singleLoader = DataLoader(set, batchSize: workers * batch, shuffle: true, seed: 9)
        let criterion = Criterion(.classification)
        var average = [Float](repeating: 0, count: server.parameterCount)
        var steps = 0
        epochs: for epoch in 1...4 {
            let order = DataLoader.order(count: set.count, seed: 9, epoch: epoch)
            for step in 0..<plan.stepsPerEpoch {
                // One process, batch N·b.
                let big = singleLoader.gather(plan.globalPositions(step: step), order: order)
                single.zeroGradients()
                _ = criterion.loss(single.forward(big.inputs), labels: big.labels, targets: big.targets)
                single.backward(criterion.backward())
                singleOptimizer.step(single)

                // N workers from the server's weights, gradients averaged by sample count.
                for i in average.indices { average[i] = 0 }
                let total = big.count
                for (rank, replica) in replicas.enumerated() {
                    let positions = plan.positions(step: step, rank: rank)
                    guard !positions.isEmpty else { continue }
                    _ = replica.parameters.update(from: server.parameters)
                    let shard = loaders[rank].gather(positions, order: order)
                    replica.zeroGradients()
                    _ = criterion.loss(replica.forward(shard.inputs), labels: shard.labels, targets: shard.targets)
                    replica.backward(criterion.backward())
                    let weight = Float(shard.count) / Float(total)
                    for i in average.indices { average[i] += weight * replica.gradients[i] }
                }
                average.withUnsafeBufferPointer { serverOptimizer.step(parameters: server.parameters, gradients: $0) }
                steps += 1
                if steps == 20 { break epochs }
            }
        }
        #expect(plan.stepsPerEpoch == 3 && set.count % (workers * batch) != 0, "the run must cross partial batches")
        var worst: Float = 0
        for i in 0..<server.parameterCount {
            let difference = abs(server.parameters[i] - single.parameters[i]) / max(abs(single.parameters[i]), 1e-3)
            worst = max(worst, difference)
        }
        #expect(worst < 1e-4, "\(optimizerName): max relative weight difference \(worst) after 20 steps")
        let initial = network().parameterValues
        #expect(single.parameters.indices.contains { abs(single.parameters[$0] - initial[$0]) > 1e-3 },
                "the weights must have moved")
    }
}

private func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in generator.nextUnitFloat() * 2 - 1 }
}
