import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// Workers that die, hang or join mid-run: training goes on with the others, and every sample of each
/// epoch is applied exactly once.
@Suite(.timeLimit(.minutes(1))) struct MembershipTests {
    /// Short enough for a quick test, long enough that a loaded machine (the whole suite on 2 cores) drops no live worker.
    static let interval = Duration.milliseconds(100), timeout = Duration.seconds(2)

    /// Sync: 2 workers and a peer that hangs after 2 steps (connection open, silent). The server drops it
    /// after the heartbeat timeout, the others compute the abandoned step again, and every epoch still
    /// covers all 150 samples.
    @Test func aHangingWorkerIsDroppedAndNoSampleIsSkipped() async throws {
        let set = SyncSetUp.dataset(count: 150)
        let configuration = SyncSetUp.configuration(.sgd, epochs: 3)
        let initial = SyncSetUp.network()
        let summaries = Summaries(), changes = MembershipChanges(), serverLog = LogLines()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "tcp://127.0.0.1:*",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 3, joinTimeout: .seconds(30), stepTimeout: .seconds(30), heartbeatInterval: Self.interval, heartbeatTimeout: Self.timeout),
            events: .init(logger: .lines(serverLog.append), onMembershipChange: changes.append, onEpochEnd: summaries.append))
        async let finalWeights = server.run()
        // The workers' heartbeat interval is longer than the server's: the server's heartbeats must not
        // keep putting theirs off, or the waiting workers would look silent too.
        let workers = try (0..<2).map { _ in
            try Worker(context: context, connect: server.endpoint,
                       settings: Worker.Settings(timeout: .seconds(30), heartbeatInterval: Self.interval * 2, heartbeatTimeout: .seconds(5), logger: .discarding)) { _ in
                Replica(model: SyncSetUp.network(), trainingSet: set, testCount: 0, objective: .classification)
            }
        }
        let runs = workers.map { worker in Task { try await worker.run() } }
        let peer = try await HangingPeer.start(context: context, endpoint: server.endpoint, set: set, fingerprint: initial.fingerprint,
                                               parameterCount: initial.parameterCount, steps: 2)
        for run in runs { _ = try await run.value }
        let weights = try await finalWeights

        let dropped = try #require(changes.all.first { $0.kind == .dropped }, "\(serverLog.lines)")
        #expect(dropped.rank == peer.rank && dropped.worldSize == 2)
        #expect(changes.all.filter { $0.kind == .dropped }.count == 1, "only the hanging peer is dropped: \(serverLog.lines)")
        let silent = try #require(dropped.silentSeconds)
        #expect(silent >= Self.timeout.seconds && silent < Self.timeout.seconds + 5, "detected after \(silent) s of silence")
        if ProcessInfo.processInfo.environment["CLUSTER_TESTS_VERBOSE"] != nil {
            print("[ClusterTests] a hung worker was dropped after \(silent) s of silence (heartbeat timeout \(Self.timeout))")
        }
        #expect(summaries.all.map(\.epoch) == [1, 2, 3])
        #expect(summaries.all.map(\.samples) == [150, 150, 150], "every sample of every epoch applied once")
        #expect(summaries.all.last?.worldSize == 2)
        #expect(weights.allSatisfy { $0.isFinite })
        for worker in workers { await worker.close() }
        peer.pump.close()
        await server.close()
    }

    /// Sync: 2 workers train; after the first epoch a third starts, takes part from the next step with
    /// the current weights, and the world size in the reports follows.
    @Test func aLateJoinerTakesPartFromTheNextStep() async throws {
        // 1500 samples in steps of 32 (then 48), 20 epochs: hundreds of steps, so the run is still going
        // when the third worker arrives.
        let set = SyncSetUp.dataset(count: 1500)
        let configuration = SyncSetUp.configuration(.sgd, epochs: 20)
        let initial = SyncSetUp.network()
        let summaries = Summaries(), changes = MembershipChanges()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "inproc://late-\(UUID().uuidString)",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, maximumWorkers: 3, joinTimeout: .seconds(30), stepTimeout: .seconds(30), heartbeatInterval: Self.interval, heartbeatTimeout: .seconds(5)),
            events: .init(logger: .lines({ _ in }), onMembershipChange: changes.append, onEpochEnd: summaries.append))
        async let finalWeights = server.run()
        func makeWorker() throws -> Worker {
            try Worker(context: context, connect: server.endpoint,
                       settings: Worker.Settings(timeout: .seconds(30), heartbeatInterval: Self.interval, logger: .discarding)) { _ in
                Replica(model: SyncSetUp.network(), trainingSet: set, testCount: 0, objective: .classification)
            }
        }
        let first = try (0..<2).map { _ in try makeWorker() }
        let runs = first.map { worker in Task { try await worker.run() } }
        // Bounded generously: in a whole-suite run this test failed once with the late worker already
        // in epoch 1, after 35 s in all, most likely because the old 20 s bound on this wait ran out.
        let deadline = ContinuousClock.now + .seconds(120)
        while summaries.all.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        try #require(!summaries.all.isEmpty, "epoch 1 did not end within 120 s")
        let late = try makeWorker()
        let lateRun = try await late.run()
        for run in runs { _ = try await run.value }
        _ = try await finalWeights

        #expect(changes.all.map(\.kind) == [.joined, .joined, .joined])
        #expect(changes.all.map(\.worldSize) == [1, 2, 3])
        #expect(lateRun.rank == 2 && lateRun.pushes > 0, "the late worker pushed \(lateRun.pushes) gradients")
        #expect(summaries.all.count == 20 && summaries.all.allSatisfy { $0.samples == 1500 }, "\(summaries.all.map(\.samples))")
        #expect(summaries.all.first?.worldSize == 2 && summaries.all.last?.worldSize == 3, "world sizes \(summaries.all.map(\.worldSize))")
        for worker in first + [late] { await worker.close() }
        await server.close()
    }

    /// Async: the ranks are fixed; a peer hangs, is dropped, and a new worker takes over its rank's
    /// remaining steps, so every epoch is still complete.
    @Test func aNewWorkerTakesOverADroppedRankInAsyncMode() async throws {
        let set = SyncSetUp.dataset(count: 150)
        let configuration = SyncSetUp.configuration(.sgd, mode: .async, epochs: 3)
        let initial = SyncSetUp.network()
        let summaries = Summaries(), changes = MembershipChanges(), serverLog = LogLines()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "tcp://127.0.0.1:*",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, joinTimeout: .seconds(30), stepTimeout: .seconds(30), heartbeatInterval: Self.interval, heartbeatTimeout: Self.timeout),
            events: .init(logger: .lines(serverLog.append), onMembershipChange: changes.append, onEpochEnd: summaries.append))
        async let finalWeights = server.run()
        func makeWorker() throws -> Worker {
            try Worker(context: context, connect: server.endpoint,
                       settings: Worker.Settings(timeout: .seconds(30), heartbeatInterval: Self.interval, heartbeatTimeout: .seconds(5), logger: .discarding)) { _ in
                Replica(model: SyncSetUp.network(), trainingSet: set, testCount: 0, objective: .classification)
            }
        }
        let peer = try await HangingPeer.start(context: context, endpoint: server.endpoint, set: set, fingerprint: initial.fingerprint,
                                               parameterCount: initial.parameterCount, steps: 0)
        let steady = try makeWorker()
        let steadyRun = Task { try await steady.run() }
        // The peer never pushes; once it is dropped, a replacement takes its rank.
        let dropped = await changes.wait { $0.kind == .dropped }
        #expect(dropped?.rank == peer.rank, "\(serverLog.lines)")
        let replacement = try makeWorker()
        let replaced = try await replacement.run()
        _ = try await steadyRun.value
        _ = try await finalWeights

        #expect(replaced.rank == 2, "a new rank for the new worker")
        #expect(summaries.all.map(\.samples) == [150, 150, 150], "\(serverLog.lines)")
        for worker in [steady, replacement] { await worker.close() }
        peer.pump.close()
        await server.close()
    }

    /// A worker that stops hearing the server (no heartbeat, no weights) gives up after its heartbeat timeout.
    @Test func aWorkerGivesUpASilentServerAfterItsHeartbeatTimeout() async throws {
        let set = SyncSetUp.dataset(count: 150)
        let configuration = SyncSetUp.configuration(.sgd)
        let model = SyncSetUp.network()
        let context = try Context()
        let fakeServer = try SocketPump(context: context, type: .router, name: "silent-server") {
            try $0.set(.linger, 0)
            try $0.bind("tcp://127.0.0.1:*")
        }
        // A 2 s silence with heartbeats every 0.1 s: several heartbeats even on a loaded machine.
        let silence = Self.timeout
        let worker = try Worker(context: context, connect: fakeServer.endpoint,
                                settings: Worker.Settings(timeout: .seconds(30), heartbeatInterval: Self.interval, heartbeatTimeout: silence, logger: .discarding)) { _ in
            Replica(model: SyncSetUp.network(), trainingSet: set, testCount: 0, objective: .classification)
        }
        let finished = Flag()
        let run = Task {
            defer { finished.set() }
            return try await worker.run()
        }
        // Answer hello and join like a server, then say nothing more.
        var heartbeats = 0
        var welcomedAt: ContinuousClock.Instant?
        // Until the worker gives up; the bound allows for its task waiting long for a thread when the
        // whole suite runs on 2 cores.
        let deadline = ContinuousClock.now + .seconds(60)
        while !finished.isSet && ContinuousClock.now < deadline {
            guard let frames = await fakeServer.mailbox.next(before: .now + .milliseconds(50)) else { continue }
            let (identity, message) = try WireMessage.decodeRouted(frames: frames, expectedFingerprint: nil, parameterCount: nil)
            switch message.body {
            case .hello:
                fakeServer.send(WireMessage(sender: MessageHeader.serverSender, fingerprint: model.fingerprint, body: .setup(
                    Setup(configuration: configuration, dataset: DatasetDescription(describing: set, testCount: 0)))).encoded(to: identity))
            case .join:
                welcomedAt = .now
                fakeServer.send(WireMessage(sender: MessageHeader.serverSender, fingerprint: model.fingerprint, body: .welcome(
                    Welcome(rank: 0, worldSize: 1, configuration: configuration, weights: .array(Array(model.parameters))))).encoded(to: identity))
            case .heartbeat:
                heartbeats += 1
            default:
                break
            }
        }
        // Heartbeats still queued when the worker gave up count too.
        while let frames = await fakeServer.mailbox.next(before: .now + .milliseconds(100)) {
            if (try? WireMessage.decodeRouted(frames: frames, expectedFingerprint: nil, parameterCount: nil))?.1.type == .heartbeat {
                heartbeats += 1
            }
        }
        let error = await #expect(throws: ClusterError.self) { try await run.value }
        guard case .noReply? = error else {
            Issue.record("expected noReply, got \(String(describing: error))")
            return
        }
        let waited = try #require(welcomedAt).duration(to: .now)
        // Measured from this task, which may itself wait for a thread on a loaded machine: the upper bound is loose.
        #expect(waited >= silence && waited < silence + .seconds(20), "gave up after \(waited)")
        #expect(heartbeats >= 3, "the worker sent \(heartbeats) heartbeats while it waited")
        await worker.close()
        fakeServer.close()
    }
}

/// A flag set once from any thread.
final class Flag: @unchecked Sendable {
    // Unchecked: `value` is guarded by `lock`.
    private let lock = NSLock()
    private var value = false

    /// Sets the flag.
    func set() { lock.withLock { value = true } }

    /// Whether the flag is set.
    var isSet: Bool { lock.withLock { value } }
}
