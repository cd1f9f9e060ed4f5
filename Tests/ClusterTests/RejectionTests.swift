import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// Gradients or losses with NaN or infinity are rejected, counted and reported, never applied.
@Suite(.timeLimit(.minutes(1))) struct RejectionTests {
    /// Rank 1 is a scripted peer speaking the protocol by hand: at step 1 its gradient holds a NaN, at
    /// step 2 an infinity, at step 3 its loss is NaN; otherwise it pushes zeros. The server rejects those
    /// three pushes, keeps training with rank 0, and every weight stays finite.
    @Test(arguments: [TrainingMode.sync, .async])
    func nonFinitePushesAreRejectedAndTrainingGoesOn(mode: TrainingMode) async throws {
        let set = SyncSetUp.dataset(count: 90)
        let configuration = SyncSetUp.configuration(.sgd, mode: mode, epochs: 2)
        let plan = ShardPlan(sampleCount: set.count, workerCount: 2, batchSizePerWorker: configuration.batchSizePerWorker)
        let initial = SyncSetUp.network()
        let serverLog = LogLines(), summaries = Summaries()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "tcp://127.0.0.1:*",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, joinTimeout: .seconds(30), stepTimeout: .seconds(30)),
            events: .init(logger: .lines(serverLog.append), onEpochEnd: summaries.append))
        async let finalWeights = server.run()

        // The scripted peer joins first, so it is rank 0 of the join order only if it wins; read its rank from welcome.
        let peer = try SocketPump(context: context, type: .dealer, name: "scripted-peer") { [endpoint = server.endpoint] in
            try $0.set(.linger, 1000)
            try $0.connect(endpoint)
        }
        /// The server's next message other than a heartbeat (sent when a step takes longer than its interval).
        func next() async throws -> WireMessage {
            while true {
                let frames = try #require(await peer.mailbox.next(before: .now + .seconds(10)), "the server did not answer")
                let message = try WireMessage.decode(frames: frames, expectedFingerprint: nil, parameterCount: nil)
                if message.type != .heartbeat { return message }
            }
        }
        peer.send(WireMessage(sender: MessageHeader.unassignedSender, body: .hello).encoded())
        _ = try await next()
        peer.send(WireMessage(sender: MessageHeader.unassignedSender, body: .join(DatasetDescription(describing: set, testCount: 0))).encoded())
        guard case .welcome(let welcome) = try await next().body else {
            Issue.record("expected welcome")
            return
        }
        let worker = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in SyncSetUp.network() }
        let workerRun = Task { try await worker.run() }

        let rank = welcome.rank, count = initial.parameterCount
        var step = 0
        loop: while true {
            let samples = plan.positions(step: step % plan.stepsPerEpoch, rank: rank).count
            var gradient = [Float](repeating: 0, count: count)
            var loss = 0.5
            switch step {
            case 1: gradient[count / 2] = .nan
            case 2: gradient[0] = -.infinity
            case 3: loss = .nan
            default: break
            }
            let push = GradientPush(sampleCount: samples, meanLoss: samples > 0 ? loss : 0, isEndOfEpoch: samples == 0,
                                    gradient: samples > 0 ? .array(gradient) : .array([]))
            peer.send(WireMessage(sender: UInt32(rank), step: UInt64(step), fingerprint: initial.fingerprint,
                                  body: .pushGradient(push)).encoded())
            let reply = try await next()
            switch reply.body {
            case .weights: step += 1
            case .stop: break loop
            default:
                Issue.record("unexpected \(reply.type)")
                break loop
            }
        }
        let statistics = try await workerRun.value
        let weights = try await finalWeights
        #expect(statistics.pushes == 2 * plan.stepsPerEpoch)
        #expect(await server.rejectedGradients == 3)
        #expect(weights.allSatisfy { $0.isFinite })
        #expect(weights.indices.contains { abs(weights[$0] - initial.parameters[$0]) > 1e-3 }, "rank 0's gradients must apply")
        let reported = summaries.all
        #expect(reported.map(\.epoch) == [1, 2])
        #expect(reported.reduce(0) { $0 + $1.ranks[rank].rejected } == 3)
        #expect(reported.reduce(0) { $0 + $1.ranks[1 - rank].rejected } == 0)
        #expect(reported.allSatisfy { $0.trainLoss.isFinite })
        let rejections = serverLog.lines.filter { $0.contains("rejected the gradient of rank \(rank)") }
        #expect(rejections.count == 3, "\(serverLog.lines)")
        #expect(rejections.allSatisfy { $0.contains("NaN or infinity") })
        peer.close()
        await worker.close()
        await server.close()
    }
}
