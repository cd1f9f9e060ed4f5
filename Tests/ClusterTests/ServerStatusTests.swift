import Datasets
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// The live status a server reports while it trains.
@Suite(.timeLimit(.minutes(1))) struct ServerStatusTests {
    @Test func statusFollowsTheEpochAndEachWorker() async throws {
        let set = SyncSetUp.dataset(count: 1500)
        let configuration = SyncSetUp.configuration(.sgd, epochs: 8)
        let initial = SyncSetUp.network()
        let statuses = Statuses()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "inproc://status-\(UUID().uuidString)",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, joinTimeout: .seconds(30), stepTimeout: .seconds(30), statusInterval: .milliseconds(5)),
            events: .init(logger: .lines({ _ in }), onStatus: statuses.append))
        async let finalWeights = server.run()
        let workers = try (0..<2).map { _ in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in
                SyncSetUp.network()
            }
        }
        let runs = workers.map { worker in Task { try await worker.run() } }
        for run in runs { _ = try await run.value }
        _ = try await finalWeights
        for worker in workers { await worker.close() }
        await server.close()

        let all = statuses.all
        let training = all.filter { $0.worldSize == 2 }
        #expect(training.count >= 3, "\(all.count) statuses, \(training.count) with both workers")
        for status in all {
            #expect((0...1).contains(status.epochProgress) && (1...8).contains(status.epoch) && status.epochs == 8)
            #expect(status.samplesPerSecond >= 0 && status.workers.allSatisfy { $0.secondsSinceHeard >= 0 })
        }
        #expect(training.allSatisfy { $0.workers.map(\.rank) == [0, 1] })
        #expect(training.contains { $0.samplesPerSecond > 0 && $0.loss != nil }, "some status shows progress")
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.epoch <= $1.epoch }, "epochs only move forward")
    }
}

/// Statuses collected from a server.
final class Statuses: @unchecked Sendable {
    // Unchecked: `stored` is guarded by `lock`.
    private let lock = NSLock()
    private var stored: [ServerStatus] = []

    /// Appends one status.
    func append(_ status: ServerStatus) { lock.withLock { stored.append(status) } }

    /// The statuses so far, in order.
    var all: [ServerStatus] { lock.withLock { stored } }
}
