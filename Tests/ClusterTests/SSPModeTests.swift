import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// SSP mode over real sockets: gradients applied on arrival, no worker more than the bound ahead.
@Suite(.timeLimit(.minutes(1))) struct SSPModeTests {
    /// Runs `workers` workers against a server with `configuration` over tcp; returns the final weights,
    /// the epoch summaries and each worker's statistics.
    private func train(_ configuration: TrainingConfiguration, workers count: Int, set: LabeledDataset,
                       maxSteps: Int? = nil, lastWorkerPause: TimeInterval? = nil) async throws -> ([Float], [EpochSummary], [WorkerStatistics]) {
        let initial = SyncSetUp.network()
        let summaries = Summaries()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "tcp://127.0.0.1:*",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: count, maxSteps: maxSteps, joinTimeout: .seconds(30), stepTimeout: .seconds(30)),
            events: .init(logger: .discarding, onEpochEnd: summaries.append))
        let workers = try (0..<count).map { index in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in
                guard index == count - 1, let lastWorkerPause else { return SyncSetUp.network() }
                // The same parameters (so the same fingerprint) behind a pause: a slow worker.
                return Model(Sequential([("fc1", Linear(12, 16) as any Layer), ("relu", ReLU()), ("fc2", Linear(16, 5)),
                                         ("pause", PauseLayer(seconds: lastWorkerPause))]), seed: 3)
            }
        }
        async let weights = server.run()
        let statistics = try await withThrowingTaskGroup(of: WorkerStatistics.self) { group in
            for worker in workers { group.addTask { try await worker.run() } }
            return try await group.reduce(into: [WorkerStatistics]()) { $0.append($1) }
        }.sorted { $0.rank < $1.rank }
        let result = try await weights
        for worker in workers { await worker.close() }
        await server.close()
        return (result, summaries.all, statistics)
    }

    private func configuration(mode: TrainingMode, staleness: Int?, momentum: Float, epochs: Int) -> TrainingConfiguration {
        TrainingConfiguration(model: "tiny-mlp", dataset: "random", optimizer: .sgd(learningRate: 0.05, momentum: momentum),
                              batchSizePerWorker: 16, epochs: epochs, seed: 9, mode: mode, staleness: staleness)
    }

    /// With a bound of 0 and plain SGD, every step's pushes are applied one after another on the weights
    /// all workers computed on, which is sync's averaged step up to rounding.
    @Test func boundZeroWithPlainSGDEqualsSync() async throws {
        let set = SyncSetUp.dataset(count: 90)
        let (sync, _, _) = try await train(configuration(mode: .sync, staleness: nil, momentum: 0, epochs: 3), workers: 2, set: set)
        let (ssp, summaries, _) = try await train(configuration(mode: .ssp, staleness: 0, momentum: 0, epochs: 3), workers: 2, set: set)
        var worst: Float = 0
        for index in sync.indices {
            worst = max(worst, abs(sync[index] - ssp[index]) / max(abs(sync[index]), 1e-3))
        }
        #expect(worst < 1e-4, "max relative weight difference \(worst) between SSP(0) and sync")
        #expect(summaries.flatMap(\.ranks).allSatisfy { $0.stepsAhead.count == 1 }, "nobody was ever ahead")
    }

    /// Three workers with a bound of 2 over two epochs: every push applied once, every sample covered
    /// once per epoch, and no gradient computed more than 2 steps ahead of the slowest worker.
    @Test func threeWorkersStayWithinTheBoundAndCoverEverySample() async throws {
        let set = SyncSetUp.dataset(count: 150)
        let config = configuration(mode: .ssp, staleness: 2, momentum: 0.9, epochs: 2)
        let plan = ShardPlan(sampleCount: set.count, workerCount: 3, batchSizePerWorker: config.batchSizePerWorker)
        let (weights, summaries, statistics) = try await train(config, workers: 3, set: set)
        #expect(statistics.map(\.pushes) == [Int](repeating: 2 * plan.stepsPerEpoch, count: 3))
        #expect(summaries.map(\.epoch) == [1, 2])
        for summary in summaries {
            #expect(summary.samples == set.count)
            #expect(summary.ranks.allSatisfy { $0.pushes == plan.stepsPerEpoch && $0.stepsAhead.count <= 3 },
                    "\(summary.ranks.map(\.stepsAhead))")
        }
        #expect(weights.allSatisfy { $0.isFinite })
    }

    /// A worker held for the slowest has that time counted as its wait, as a sync push waiting for its step is.
    @Test func aWorkerHeldForTheSlowestHasItsWaitCounted() async throws {
        let set = SyncSetUp.dataset(count: 96)
        let config = configuration(mode: .ssp, staleness: 0, momentum: 0, epochs: 3)
        let pause = 0.2
        let (_, summaries, _) = try await train(config, workers: 2, set: set, lastWorkerPause: pause)
        let steps = ShardPlan(sampleCount: set.count, workerCount: 2, batchSizePerWorker: config.batchSizePerWorker).stepsPerEpoch
        #expect(summaries.count == 3)
        // The fast worker (whichever rank it got) waits about one pause per step for the slow one; the
        // slow one is held only while the server's thread is (a loaded host), and then so is the fast
        // one, whose push came first: the difference is the fast one's waits. The first epoch also
        // holds the wait of whichever worker joined first for the other, so it is left out.
        let later = summaries.dropFirst()
        let ranks = later.first?.ranks.indices ?? 0..<0
        let waits = ranks.map { rank in later.reduce(0) { $0 + $1.ranks[rank].waitSeconds } }
        let fast = waits.max() ?? 0, slow = waits.min() ?? 0
        #expect(fast - slow >= 0.5 * pause * Double(2 * steps - 1), "waits \(waits) s over epochs 2 and 3, \(2 * steps) steps")
    }
}
