import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// Async mode over real sockets: each gradient is applied as it arrives and only its sender gets the new weights.
@Suite(.timeLimit(.minutes(1))) struct AsyncModeTests {
    /// With one worker nothing is stale: async training is exactly one process with the worker's batch.
    @Test func oneAsyncWorkerEqualsOneProcess() async throws {
        let set = SyncSetUp.dataset(count: 90)
        let configuration = SyncSetUp.configuration(.adam, mode: .async)
        let steps = 14
        let expected = SyncSetUp.singleProcess(set, configuration: configuration, globalBatch: configuration.batchSizePerWorker,
                                               steps: steps)
        let initial = SyncSetUp.network()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "tcp://127.0.0.1:*",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 1, maxSteps: steps, joinTimeout: .seconds(30), stepTimeout: .seconds(30)),
            events: .init(logger: .discarding))
        let worker = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in SyncSetUp.network() }
        async let finalWeights = server.run()
        let statistics = try await worker.run()
        let weights = try await finalWeights
        #expect(statistics.pushes == steps && statistics.rank == 0)
        #expect(await server.completedUpdates == steps)
        var worst: Float = 0
        for index in weights.indices {
            worst = max(worst, abs(weights[index] - expected[index]) / max(abs(expected[index]), 1e-3))
        }
        #expect(worst < 1e-5, "max relative weight difference \(worst) after \(steps) async steps")
        await worker.close()
        await server.close()
    }

    /// Async semantics made deterministic: rank 0 trains alone to its last step, then rank 1 joins. Every
    /// push is applied at once on the newest weights, weighted by its share of its global batch (16 of
    /// 32, then 16 and 10 of the partial 26), so the result is one process stepping through rank 0's shards and then rank 1's with the
    /// gradient scaled by those shares.
    @Test func asyncPushesApplyInArrivalOrderWeightedByTheirShare() async throws {
        let set = SyncSetUp.dataset(count: 90)
        let configuration = SyncSetUp.configuration(.sgd, mode: .async)
        let steps = 3
        let plan = ShardPlan(sampleCount: set.count, workerCount: 2, batchSizePerWorker: configuration.batchSizePerWorker)
        let initial = SyncSetUp.network()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "inproc://async-order-\(UUID().uuidString)",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, maxSteps: steps, joinTimeout: .seconds(30), stepTimeout: .seconds(30)),
            events: .init(logger: .lines({ _ in })))
        async let finalWeights = server.run()
        for _ in 0..<2 {
            let worker = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                    settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in SyncSetUp.network() }
            #expect(try await worker.run().pushes == steps)
            await worker.close()
        }
        let weights = try await finalWeights
        await server.close()

        let model = SyncSetUp.network()
        let optimizer = SGD(parameterCount: model.parameterCount, learningRate: configuration.optimizer.learningRate,
                            momentum: configuration.optimizer.momentum)
        let loader = DataLoader(set, batchSize: configuration.batchSizePerWorker, shuffle: true, seed: configuration.seed)
        let order = DataLoader.order(count: set.count, seed: configuration.seed, epoch: 1)
        let criterion = Criterion(.classification)
        for rank in 0..<2 {
            for step in 0..<steps {
                let batch = loader.gather(plan.positions(step: step, rank: rank), order: order)
                model.zeroGradients()
                _ = criterion.loss(model.forward(batch.inputs), labels: batch.labels, targets: batch.targets)
                model.backward(criterion.backward())
                let share = Float(batch.count) / Float(plan.globalPositions(step: step).count)
                for index in model.gradients.indices { model.gradients[index] *= share }
                optimizer.step(model)
            }
        }
        var worst: Float = 0
        for index in weights.indices {
            worst = max(worst, abs(weights[index] - model.parameters[index]) / max(abs(model.parameters[index]), 1e-3))
        }
        #expect(worst < 1e-5, "max relative weight difference \(worst)")
    }

    /// Two async workers for two whole epochs: every gradient is applied once, every sample is covered
    /// once per epoch, and the server reports both epochs in order with each rank's share.
    @Test func twoAsyncWorkersApplyEveryGradientOnce() async throws {
        let set = SyncSetUp.dataset(count: 90)
        let configuration = SyncSetUp.configuration(.sgd, mode: .async, epochs: 2)
        let plan = ShardPlan(sampleCount: set.count, workerCount: 2, batchSizePerWorker: configuration.batchSizePerWorker)
        let initial = SyncSetUp.network()
        let summaries = Summaries()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "inproc://async-\(UUID().uuidString)",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, joinTimeout: .seconds(30), stepTimeout: .seconds(30)),
            events: .init(logger: .lines({ _ in }), onEpochEnd: summaries.append))
        let workers = try (0..<2).map { _ in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in
                SyncSetUp.network()
            }
        }
        async let finalWeights = server.run()
        let statistics = try await withThrowingTaskGroup(of: WorkerStatistics.self) { group in
            for worker in workers { group.addTask { try await worker.run() } }
            return try await group.reduce(into: [WorkerStatistics]()) { $0.append($1) }
        }.sorted { $0.rank < $1.rank }
        let weights = try await finalWeights
        let perRank = (0..<2).map { rank in (0..<plan.stepsPerEpoch).map { plan.positions(step: $0, rank: rank).count } }
        #expect(statistics.map(\.pushes) == [2 * plan.stepsPerEpoch, 2 * plan.stepsPerEpoch])
        #expect(statistics.map(\.samples) == perRank.map { 2 * $0.reduce(0, +) })
        // One update per non-empty push.
        let nonEmpty = perRank.flatMap { $0 }.filter { $0 > 0 }.count
        #expect(await server.completedUpdates == 2 * nonEmpty)
        let reported = summaries.all
        #expect(reported.map(\.epoch) == [1, 2])
        for summary in reported {
            #expect(summary.samples == set.count)
            #expect(summary.updates == nonEmpty)
            #expect(summary.ranks.map(\.samples) == perRank.map { $0.reduce(0, +) })
            #expect(summary.ranks.allSatisfy { $0.pushes == plan.stepsPerEpoch && $0.waitSeconds == 0 })
            #expect(summary.trainLoss.isFinite && summary.trainLoss > 0)
        }
        #expect(reported.last?.weights == weights)
        #expect(weights.indices.contains { abs(weights[$0] - initial.parameters[$0]) > 1e-3 }, "the weights must have moved")
        for worker in workers { await worker.close() }
        await server.close()
    }
}

/// Epoch summaries collected from the server's callback.
final class Summaries: @unchecked Sendable {
    // Unchecked: `stored` is guarded by `lock`.
    private let lock = NSLock()
    private var stored: [EpochSummary] = []

    /// Appends one summary.
    func append(_ summary: EpochSummary) { lock.withLock { stored.append(summary) } }

    /// The summaries so far, in the order reported.
    var all: [EpochSummary] { lock.withLock { stored } }
}
