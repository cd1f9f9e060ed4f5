import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// Hello, setup and join: what a worker learns before it trains, and who is turned away.
@Suite(.timeLimit(.minutes(1))) struct JoinTests {
    /// A worker learns the configuration from setup before it prepares, and its data's checksum is
    /// checked: the same size with other labels is refused, naming both checksums.
    @Test func sameSizeOtherContentIsRefusedByChecksum() async throws {
        let set = SyncSetUp.dataset(count: 90), other = SyncSetUp.dataset(count: 90, labelStride: 3)
        #expect(set.checksum != other.checksum)
        let initial = SyncSetUp.network()
        let serverLog = LogLines()
        let context = try Context()
        let configuration = SyncSetUp.configuration(.sgd)
        let server = try ParameterServer(
            context: context,
            bind: "tcp://127.0.0.1:*",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 1, maxSteps: 3, joinTimeout: .seconds(30), stepTimeout: .seconds(30)),
            events: .init(logger: .lines(serverLog.append)))
        async let finalWeights = server.run()

        let seen = LogLines()
        let stranger = try Worker(context: context, connect: server.endpoint,
                                  settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { received in
            seen.append("\(received.model) \(received.batchSizePerWorker)")
            return Replica(model: SyncSetUp.network(), trainingSet: other, testCount: 0, objective: .classification)
        }
        let error = await #expect(throws: ClusterError.self) { try await stranger.run() }
        #expect(seen.lines == ["tiny-mlp 16"], "prepare must see the server's configuration")
        let checksums = [set, other].map { DatasetDescription(describing: $0, testCount: 0).checksum }
        guard case .refused(let reason)? = error else {
            Issue.record("expected a refusal, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("checksum \(checksums[0])") && reason.contains("checksum \(checksums[1])"), "\(reason)")
        await stranger.close()

        let worker = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in SyncSetUp.network() }
        #expect(try await worker.run().pushes == 3)
        _ = try await finalWeights
        #expect(serverLog.lines.contains { $0.contains("refused a worker: data set differs") }, "\(serverLog.lines)")
        await worker.close()
        await server.close()
    }

    /// A worker that cannot load its data tells the server why and throws; the server keeps its rank free.
    @Test func aWorkerThatCannotPrepareTellsTheServer() async throws {
        struct MissingData: Error, CustomStringConvertible { var description: String { "no mnist/ in /nowhere" } }
        let set = SyncSetUp.dataset(count: 90)
        let initial = SyncSetUp.network()
        let serverLog = LogLines()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "inproc://prepare-\(UUID().uuidString)",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: SyncSetUp.configuration(.sgd),
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 1, maxSteps: 2, joinTimeout: .seconds(30), stepTimeout: .seconds(30)),
            events: .init(logger: .lines(serverLog.append)))
        async let finalWeights = server.run()
        let broken = try Worker(context: context, connect: server.endpoint,
                                settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in
            throw MissingData()
        }
        await #expect(throws: MissingData.self) { try await broken.run() }
        await broken.close()
        let worker = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in SyncSetUp.network() }
        let statistics = try await worker.run()
        #expect(statistics.rank == 0 && statistics.pushes == 2)
        _ = try await finalWeights
        #expect(serverLog.lines.contains { $0.contains("an unjoined peer reports: the worker cannot start: no mnist/ in /nowhere") },
                "\(serverLog.lines)")
        await worker.close()
        await server.close()
    }

    /// Sync epochs are reported in order with every sample, each rank's share, and its waits.
    @Test func syncEpochSummariesCountEverySample() async throws {
        let set = SyncSetUp.dataset(count: 90)
        let configuration = SyncSetUp.configuration(.sgd, epochs: 2)
        let plan = ShardPlan(sampleCount: set.count, workerCount: 2, batchSizePerWorker: configuration.batchSizePerWorker)
        let initial = SyncSetUp.network()
        let summaries = Summaries()
        let traced = LogLines()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "inproc://epochs-\(UUID().uuidString)",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, joinTimeout: .seconds(30), stepTimeout: .seconds(30)),
            events: .init(logger: .lines({ _ in }, trace: traced.append), onEpochEnd: summaries.append))
        let workers = try (0..<2).map { _ in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in
                SyncSetUp.network()
            }
        }
        async let finalWeights = server.run()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in workers { group.addTask { _ = try await worker.run() } }
            try await group.waitForAll()
        }
        _ = try await finalWeights
        let reported = summaries.all
        #expect(reported.map(\.epoch) == [1, 2])
        for summary in reported {
            #expect(summary.samples == set.count && summary.updates == plan.stepsPerEpoch)
            #expect(summary.ranks.map(\.pushes) == [plan.stepsPerEpoch, plan.stepsPerEpoch])
            #expect(summary.ranks.map(\.samples).reduce(0, +) == set.count)
            #expect(summary.ranks.allSatisfy { $0.waitSeconds >= 0 } && summary.seconds > 0)
        }
        // The trace names each message's type, step and size, never its values.
        let lines = traced.lines
        #expect(lines.contains { $0.contains("← rank 1: push-gradient step 0,") })
        #expect(lines.contains { $0.contains("→ rank 0: weights step 1, \(initial.parameterCount * 4) bytes") })
        #expect(lines.contains { $0.contains("→ rank 1: stop step \(2 * plan.stepsPerEpoch),") })
        for worker in workers { await worker.close() }
        await server.close()
    }
}
