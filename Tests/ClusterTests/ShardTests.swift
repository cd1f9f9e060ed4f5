import Datasets
import Engine
import Foundation
import Synchronization
import Testing
import ZeroMQ
@testable import Cluster

/// Parameters split over server shards, over real ZeroMQ sockets in one process: shard 0 gives the
/// places, the others take them from shard-join, and sync ends bit-identical to one server.
@Suite(.timeLimit(.minutes(1))) struct ShardTests {
    /// The flat buffer is split into contiguous ranges that cover it once, their sizes within one.
    @Test func theLayoutCoversTheBufferOnceInBalancedRanges() {
        for (shards, count) in [(1, 10), (2, 10), (3, 10), (4, 3), (5, 1_000_003)] {
            let ranges = ShardLayout.ranges(shards: shards, count: count)
            #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == count)
            #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
            #expect(ranges.map(\.count).max()! - ranges.map(\.count).min()! <= 1, "\(shards) shards of \(count): \(ranges)")
        }
    }

    /// 2 and 3 shards with 2 workers for 20 sync steps (across epoch ends with partial batches) end
    /// with exactly the weights of one server, SGD and Adam, over inproc and ipc.
    @Test(arguments: [OptimizerKind.sgd, .adam], ["inproc", "ipc"])
    func shardedSyncEndsBitIdenticalToOneServer(optimizer: OptimizerKind, transport: String) async throws {
        let set = SyncSetUp.dataset(count: 150)
        let configuration = SyncSetUp.configuration(optimizer, batchSize: 32)
        let single = try await ShardRun(shards: 1, workers: 2, steps: 20, transport: transport, set: set, configuration: configuration).run()
        for shards in [2, 3] {
            let sharded = try await ShardRun(shards: shards, workers: 2, steps: 20, transport: transport, set: set,
                                             configuration: configuration).run()
            #expect(sharded.pushes == [20, 20] && sharded.updates == Array(repeating: 20, count: shards))
            let differing = sharded.weights.indices.filter { sharded.weights[$0].bitPattern != single.weights[$0].bitPattern }
            #expect(differing.isEmpty, "\(shards) shards, \(optimizer) over \(transport): \(differing.count) of \(single.weights.count) weights differ")
            // Shard 0 reports each epoch with every shard's range put together: the one server's weights.
            #expect(sharded.reports.map(\.epoch) == single.reports.map(\.epoch) && single.reports.count >= 5,
                    "epochs reported: \(sharded.reports.map(\.epoch)) against \(single.reports.map(\.epoch))")
            for (ours, theirs) in zip(sharded.reports, single.reports) {
                #expect(ours.weights.map(\.bitPattern) == theirs.weights.map(\.bitPattern), "epoch \(ours.epoch)'s weights, \(shards) shards")
            }
        }
        let initial = SyncSetUp.network().parameters
        #expect(single.weights.indices.contains { abs(single.weights[$0] - initial[$0]) > 1e-3 }, "the weights must have moved")
    }

    /// In async mode every shard applies every push on arrival: 2 workers × 15 pushes are 30 updates at each shard.
    @Test func asyncShardsApplyEveryPush() async throws {
        let set = SyncSetUp.dataset(count: 150)
        let run = try await ShardRun(shards: 2, workers: 2, steps: 15, transport: "inproc", set: set,
                                     configuration: SyncSetUp.configuration(.sgd, mode: .async)).run()
        #expect(run.pushes == [15, 15])
        #expect(run.updates == [30, 30])
    }

    /// A worker sent to shard 2 is refused with a reason that names shard 1's address; a shard-join sent
    /// to shard 1 is refused too, and a worker that cannot open more connections says why.
    @Test func aWorkerAtTheWrongShardIsToldWhereToGo() async throws {
        let set = SyncSetUp.dataset(count: 60)
        let run = ShardRun(shards: 2, workers: 1, steps: 3, transport: "inproc", set: set, configuration: SyncSetUp.configuration(.sgd))
        let context = try Context()
        let servers = try run.servers(context: context)
        let running = servers.map { server in Task { try await server.run() } }
        defer { running.forEach { $0.cancel() } }

        let lost = try Worker(context: context, connect: servers[1].endpoint, trainingSet: set,
                              settings: Worker.Settings(timeout: .seconds(5), logger: .discarding)) { _ in SyncSetUp.network() }
        let error = await #expect(throws: ClusterError.self) { try await lost.run() }
        guard case .refused(let reason)? = error else { Issue.record("expected a refusal, got \(String(describing: error))"); return }
        #expect(reason.contains("shard 2 of 2") && reason.contains(servers[0].endpoint), "\(reason)")
        await lost.close()

        let alone = try ZeroMQTransport(context: context, role: .client(connect: servers[0].endpoint, curve: nil), name: "alone")
        let unconnectable = Worker(transport: alone, settings: Worker.Settings(timeout: .seconds(5), logger: .discarding)) { _ in
            Replica(model: SyncSetUp.network(), trainingSet: set, testCount: 0, objective: .classification)
        }
        let refusal = await #expect(throws: ClusterError.self) { try await unconnectable.run() }
        #expect("\(refusal.map { "\($0)" } ?? "")".contains("over 2 server shards"), "\(String(describing: refusal))")
        await unconnectable.close()

        let peer = try SocketPump(context: context, type: .dealer, name: "shard-joiner") {
            try $0.set(.linger, 0)
            try $0.connect(servers[0].endpoint)
        }
        peer.send(WireMessage(sender: MessageHeader.unassignedSender,
                              body: .shardJoin(ShardJoin(rank: 0, slot: 0, dataset: DatasetDescription(describing: set, testCount: 0)))).encoded())
        let frames = try #require(await peer.mailbox.next(before: .now + .seconds(5)), "no answer to the shard-join")
        let answer = try WireMessage.decode(frames: frames, expectedFingerprint: nil, parameterCount: nil)
        guard case .error(let why) = answer.body else { Issue.record("expected an error, got \(answer.type)"); return }
        #expect(why.contains("send join, not shard-join"), "\(why)")
        for server in servers { server.requestStop(reason: "test over") }
        for task in running { _ = try? await task.value }
        await peer.closeAndWait()
        for server in servers { await server.close() }
    }
}

/// One run of S shards and W workers in one process.
struct ShardRun {
    var shards: Int
    var workers: Int
    var steps: Int
    var transport: String
    var set: LabeledDataset
    var configuration: TrainingConfiguration

    /// What the run ended with: the weights put together from every shard, each worker's pushes, each shard's updates.
    struct Outcome {
        var weights: [Float]
        var pushes: [Int]
        var updates: [Int]
        /// The epochs shard 0 (or the one server) reported, in order.
        var reports: [EpochSummary]
    }

    /// The shards' addresses: inproc names, or ipc paths in the temporary folder.
    func addresses() -> [String] {
        let tag = UUID().uuidString.prefix(8)
        return (0..<shards).map { transport == "ipc" ? "ipc://\(NSTemporaryDirectory())shard-\(tag)-\($0)" : "inproc://shard-\(tag)-\($0)" }
    }

    /// The shards, bound and ready to run; shard 0's epoch reports go to `reports`.
    func servers(context: Context, reports: EpochReports = EpochReports()) throws -> [ParameterServer] {
        let addresses = addresses()
        var sharded = configuration
        if shards > 1 { sharded.shards = addresses }
        let initial = SyncSetUp.network()
        var servers: [ParameterServer] = []
        for index in addresses.indices {
            var onEpochEnd: (@Sendable (EpochSummary) -> Void)?
            if index == 0 { onEpochEnd = { @Sendable summary in reports.append(summary) } }
            let settings = ParameterServer.Settings(worldSize: workers, maxSteps: steps, joinTimeout: .seconds(30), stepTimeout: .seconds(30),
                                                    shardIndex: index)
            servers.append(try ParameterServer(
                context: context, bind: addresses[index], weights: Array(initial.parameters), fingerprint: initial.fingerprint,
                configuration: sharded, dataset: DatasetDescription(describing: set, testCount: 0), settings: settings,
                events: ParameterServer.Events(logger: .lines({ _ in }), onEpochEnd: onEpochEnd)))
        }
        return servers
    }

    func run() async throws -> Outcome {
        let context = try Context()
        let reports = EpochReports()
        let servers = try servers(context: context, reports: reports)
        let replicas = try (0..<workers).map { _ in
            try Worker(context: context, connect: servers[0].endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in SyncSetUp.network() }
        }
        let running = servers.map { server in Task { try await server.run() } }
        let pushes = try await pushCounts(running: replicas)
        var weights: [Float] = []
        for task in running { weights += try await task.value }
        let updates = await servers.asyncMap { await $0.completedUpdates }
        for worker in replicas { await worker.close() }
        for server in servers { await server.close() }
        return Outcome(weights: weights, pushes: pushes, updates: updates, reports: reports.all)
    }
}

/// Epoch summaries handed over on a server's reporting thread.
final class EpochReports: Sendable {
    private let summaries = Mutex<[EpochSummary]>([])

    func append(_ summary: EpochSummary) { summaries.withLock { $0.append(summary) } }

    var all: [EpochSummary] { summaries.withLock { $0 } }
}
