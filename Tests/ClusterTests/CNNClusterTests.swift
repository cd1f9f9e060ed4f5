import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// The tutorial's CIFAR-10 CNN through the cluster: its 2.1M parameters cross tcp every step.
@Suite(.timeLimit(.minutes(1))) struct CNNClusterTests {
    @Test func cnnTrainsThroughTheClusterLikeOneProcess() async throws {
        var generator = SeededGenerator(seed: 5)
        let count = 20
        let features = (0..<(count * 3 * 32 * 32)).map { _ in generator.nextUnitFloat() * 2 - 1 }
        let labels = (0..<count).map { Int32($0 % 10) }
        let set = LabeledDataset(name: "cifar-like", sampleShape: [3, 32, 32], features: features, labels: labels, classCount: 10)
        let network: @Sendable () -> Model = { Model(Models.cnn(channels: 3, imageSize: 32, classes: 10), seed: 11) }
        let configuration = TrainingConfiguration(
            model: "cnn", dataset: "cifar-like", optimizer: .sgd(learningRate: 0.01, momentum: 0.9),
            batchSizePerWorker: 4, epochs: 2, seed: 4, mode: .sync)
        let steps = 4
        let initial = network()
        #expect(initial.parameterCount > 2_000_000)

        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "tcp://127.0.0.1:*",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, maxSteps: steps, joinTimeout: .seconds(20), stepTimeout: .seconds(20)),
            events: .init(logger: .lines({ _ in })))
        let workers = try (0..<2).map { _ in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(20), heartbeatTimeout: .seconds(20), logger: .discarding)) { _ in
                network()
            }
        }
        async let finalWeights = server.run()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in workers { group.addTask { _ = try await worker.run() } }
            try await group.waitForAll()
        }
        let weights = try await finalWeights
        for worker in workers { await worker.close() }
        await server.close()

        // One process with the global batch of 8 on the same orders.
        let model = network()
        let optimizer = SGD(parameterCount: model.parameterCount, learningRate: 0.01, momentum: 0.9)
        let loader = DataLoader(set, batchSize: 8, shuffle: true, seed: configuration.seed)
        let criterion = Criterion(.classification)
        var done = 0
        epochs: for epoch in 1... {
            for batch in loader.epoch(epoch) {
                model.zeroGradients()
                _ = criterion.loss(model.forward(batch.inputs), labels: batch.labels, targets: batch.targets)
                model.backward(criterion.backward())
                optimizer.step(model)
                done += 1
                if done == steps { break epochs }
            }
        }
        var worst: Float = 0, moved = 0
        for index in weights.indices {
            worst = max(worst, abs(weights[index] - model.parameters[index]) / max(abs(model.parameters[index]), 1e-3))
            if weights[index] != initial.parameters[index] { moved += 1 }
        }
        #expect(worst < 1e-4, "max relative weight difference \(worst) after \(steps) CNN steps")
        #expect(moved > initial.parameterCount / 2, "only \(moved) weights moved")
    }
}
