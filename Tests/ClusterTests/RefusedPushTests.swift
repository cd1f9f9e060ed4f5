import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// A push no healthy worker sends (a wrong sample count) is answered with an error at once, its worker
/// is removed and the run goes on; a worker told so reports a refusal, not a failure of the server.
@Suite(.timeLimit(.minutes(1))) struct RefusedPushTests {
    /// A scripted peer joins beside a real worker and pushes step 0 with one sample too many. Within
    /// seconds (the step timeout is 30 s) it gets an error naming both counts, the server removes it,
    /// and the real worker trains on alone to the end.
    @Test(arguments: [TrainingMode.sync, .async])
    func aWrongSampleCountIsAnsweredWithAnError(mode: TrainingMode) async throws {
        let set = SyncSetUp.dataset(count: 90)
        let configuration = SyncSetUp.configuration(.sgd, mode: mode, epochs: 2)
        let plan = ShardPlan(sampleCount: set.count, workerCount: 2, batchSizePerWorker: configuration.batchSizePerWorker)
        let initial = SyncSetUp.network()
        let serverLog = LogLines(), changes = MembershipChanges()
        let context = try Context()
        let server = try ParameterServer(
            context: context, bind: "tcp://127.0.0.1:*", weights: Array(initial.parameters), fingerprint: initial.fingerprint,
            configuration: configuration, dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, joinTimeout: .seconds(20), stepTimeout: .seconds(30)),
            events: .init(logger: .lines(serverLog.append), onMembershipChange: changes.append))
        async let finalWeights = server.run()
        let peer = try await ScriptedPeer.join(context: context, endpoint: server.endpoint, set: set, name: "miscounting-peer")
        let welcome = peer.welcome
        let worker = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                settings: Worker.Settings(timeout: .seconds(20), heartbeatTimeout: .seconds(20), logger: .discarding)) { _ in SyncSetUp.network() }
        let workerRun = Task { try await worker.run() }
        // Once both have joined, so removing the peer does not leave the first step waiting for a second worker.
        _ = try #require(await changes.wait(for: { $0.kind == .joined && $0.worldSize == 2 }), "\(serverLog.lines)")
        let expected = plan.positions(step: 0, rank: welcome.slot).count
        let push = GradientPush(sampleCount: expected + 1, meanLoss: 0.5,
                                gradient: .array([Float](repeating: 0, count: initial.parameterCount)))
        let sent = ContinuousClock.now
        peer.push(push, step: 0, fingerprint: initial.fingerprint)
        let answer = try await peer.next(within: 5)
        let waited = ContinuousClock.now - sent
        guard case .error(let reason) = answer.body else {
            Issue.record("expected an error, got \(answer.type)")
            return
        }
        #expect(reason == "a push-gradient for step 0 with \(expected + 1) samples, expected \(expected)")
        #expect(waited < .seconds(5))
        #expect(ClusterError.fromServer(reason: reason) == .refused(reason: reason))
        let removed = try #require(await changes.wait(for: { $0.kind == .removed }), "\(serverLog.lines)")
        #expect(removed.rank == welcome.rank && removed.worldSize == 1)

        // Async ranks are fixed: a new worker takes the freed one over (sync goes on with one worker).
        let replacement = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                     settings: Worker.Settings(timeout: .seconds(20), heartbeatTimeout: .seconds(20), logger: .discarding)) { _ in SyncSetUp.network() }
        let replacementRun = Task { mode == .async ? try await replacement.run().pushes : 0 }
        let statistics = try await workerRun.value
        _ = try await finalWeights
        #expect(statistics.pushes > 0)
        if mode == .async { #expect(try await replacementRun.value > 0) }
        #expect(!changes.all.contains { $0.kind == .dropped }, "the peer must be removed, not dropped as silent: \(serverLog.lines)")
        #expect(serverLog.lines.contains { $0.contains("refused a push-gradient for step 0 with \(expected + 1) samples") }, "\(serverLog.lines)")
        peer.pump.close()
        await worker.close()
        await replacement.close()
        await server.close()
    }

    /// A real worker told by a scripted server that its push was refused ends with a refusal naming
    /// the reason; a server that stops for everyone is reported as failed, without repeating itself.
    @Test func aWorkerTellsARefusalFromAFailure() async throws {
        let set = SyncSetUp.dataset(count: 64)
        let model = SyncSetUp.network()
        let configuration = SyncSetUp.configuration(.sgd)
        let cases: [(sent: String, thrown: ClusterError)] = [
            ("a push-gradient for step 0 with 9 samples, expected 8", .refused(reason: "a push-gradient for step 0 with 9 samples, expected 8")),
            (ClusterError.serverStoppedPrefix + "only 1 of 2 workers joined within 5.0 s",
             .peerFailed(rank: nil, reason: "only 1 of 2 workers joined within 5.0 s")),
        ]
        for (sent, thrown) in cases {
            let context = try Context()
            let server = try SocketPump(context: context, type: .router, name: "scripted-server") {
                try $0.set(.linger, 0)
                try $0.bind("tcp://127.0.0.1:*")
            }
            let worker = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                    settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in SyncSetUp.network() }
            let workerRun = Task { try await worker.run() }
            let description = DatasetDescription(describing: set, testCount: 0)
            scripted: for _ in 0..<20 {
                let frames = try #require(await server.mailbox.next(before: .now + .seconds(10)), "the worker said nothing")
                let (identity, message) = try WireMessage.decodeRouted(frames: frames, expectedFingerprint: nil, parameterCount: nil)
                let reply: MessageBody
                switch message.body {
                case .hello: reply = .setup(Setup(configuration: configuration, dataset: description))
                case .join: reply = .welcome(Welcome(rank: 0, worldSize: 1, configuration: configuration, weights: .array(Array(model.parameters))))
                case .pushGradient: reply = .error(reason: sent)
                default: continue scripted
                }
                server.send(WireMessage(sender: MessageHeader.serverSender, fingerprint: model.fingerprint, body: reply).encoded(to: identity))
                if case .error = reply { break scripted }
            }
            await #expect(throws: thrown) { try await workerRun.value }
            #expect(!thrown.description.contains("the server stopped"))
            await worker.close()
            server.close()
        }
    }
}
