import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// Pushes that overlap backward (`TrainingConfiguration.overlapPushes`): workers send each layer's
/// gradient as gradient-part messages while backward goes on, and the push carries the first values.
@Suite(.timeLimit(.minutes(1))) struct OverlapTests {
    /// `SyncSetUp.configuration` with pushes in parts.
    static func configuration(_ optimizer: OptimizerKind, mode: TrainingMode = .sync) -> TrainingConfiguration {
        var configuration = SyncSetUp.configuration(optimizer, mode: mode)
        configuration.overlapPushes = true
        return configuration
    }

    /// A server and 2 workers for `steps` steps; the final weights and the server's trace lines.
    func train(_ configuration: TrainingConfiguration, transport: String, steps: Int = 20) async throws -> (weights: [Float], trace: [String]) {
        let set = SyncSetUp.dataset(count: 150)
        let initial = SyncSetUp.network()
        let traced = LogLines()
        let context = try Context()
        let server = try ParameterServer(
            context: context, bind: transport == "tcp" ? "tcp://127.0.0.1:*" : "inproc://overlap-\(UUID().uuidString)",
            weights: Array(initial.parameters), fingerprint: initial.fingerprint, configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, maxSteps: steps, joinTimeout: .seconds(30), stepTimeout: .seconds(30)),
            events: .init(logger: .lines({ _ in }, trace: traced.append)))
        // Parts of any size, so the tiny model's last layer goes ahead of its push.
        let replicas = try (0..<2).map { _ in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(30), minimumPartValues: 1, logger: .discarding)) { _ in SyncSetUp.network() }
        }
        async let finalWeights = server.run()
        let pushed = try await pushCounts(running: replicas)
        let weights = try await finalWeights
        if configuration.mode == .sync { #expect(pushed == [steps, steps]) }
        for worker in replicas { await worker.close() }
        await server.close()
        return (weights, traced.lines)
    }

    /// Sync with pushes in parts ends with the very weights of sync with whole pushes: the server puts
    /// the same gradients together (the tiny model's fc2 goes ahead, fc1 comes with the push).
    @Test(arguments: [OptimizerKind.sgd, .adam], ["inproc", "tcp"])
    func pushesInPartsEndBitIdenticalToWholePushes(optimizer: OptimizerKind, transport: String) async throws {
        let whole = try await train(SyncSetUp.configuration(optimizer), transport: transport)
        let parts = try await train(Self.configuration(optimizer), transport: transport)
        #expect(parts.weights == whole.weights, "\(optimizer) over \(transport)")
        #expect(!whole.trace.contains { $0.contains("gradient-part") })
        let received = parts.trace.filter { $0.contains("← rank") && $0.contains("gradient-part") }
        // One part a push: fc2's 85 values (16·5 + 5), ahead of fc1's 208 in the push.
        #expect(received.count == 40, "\(received.count) gradient-parts: \(received.prefix(3))")
        #expect(received.allSatisfy { $0.hasSuffix(" \(MessageHeader.size + 8 + 85 * 4) bytes") }, "\(received.prefix(3))")
    }

    /// Async and SSP workers send parts too, and every step is applied.
    @Test(arguments: [TrainingMode.async, .ssp])
    func asyncAndSSPPushesInPartsAreApplied(mode: TrainingMode) async throws {
        let run = try await train(Self.configuration(.sgd, mode: mode), transport: "tcp")
        #expect(run.trace.filter { $0.contains("← rank") && $0.contains("gradient-part") }.count >= 20)
        #expect(run.weights.allSatisfy { $0.isFinite })
    }

    /// A peer whose parts do not make a gradient: each push is refused with why, and a part in a run
    /// whose pushes are whole is dropped while the whole push after it is applied.
    @Test func partsThatDoNotMakeAGradientAreRefused() async throws {
        let count = SyncSetUp.network().parameterCount
        let values = { (range: Range<Int>) in FloatPayload.array([Float](repeating: 0.01, count: range.count)) }
        let cases: [(parts: [Range<Int>], first: Int, refusal: String?, logged: String?)] = [
            ([], 200, "holds only its first 200 values, and no gradient-part of step 0 came before it", nil),
            ([200..<250], 200, "holds only its first 200 values, and no gradient-part of step 0 came before it",
             "its values 200..<250 do not end the gradient of \(count) values"),
            ([250..<count, 100..<200], 100, "holds only its first 100 values, and no gradient-part of step 0 came before it",
             "its values 100..<200 do not end where the step's earlier parts begin (250)"),
            ([200..<count], 100, "holds its first 100 values, but the gradient-part messages of step 0 brought the values from 200 on", nil),
        ]
        for (parts, first, refusal, logged) in cases {
            let (reason, log) = try await answer(to: parts.map { GradientPart(offset: $0.lowerBound, values: values($0)) },
                                                 first: first, overlap: true)
            #expect(reason == refusal.map { "a push-gradient for step 0 \($0)" }, "\(parts), first \(first): \(log)")
            if let logged { #expect(log.contains { $0.contains(logged) }, "\(log)") }
        }
        // Whole pushes: the part is dropped, the push applied (the next weights come back).
        let (reason, log) = try await answer(to: [GradientPart(offset: 200, values: values(200..<count))], first: count, overlap: false)
        #expect(reason == nil, "\(log)")
        #expect(log.contains { $0.contains("dropped a gradient-part of rank 0: this run's pushes are sent whole (no --overlap)") }, "\(log)")
    }

    /// A scripted peer alone in a run sends `parts`, then a push of its `first` values (whole when it is
    /// the parameter count); the refusal's reason (nil when the server answers with weights) and the server's log.
    private func answer(to parts: [GradientPart], first: Int, overlap: Bool) async throws -> (String?, [String]) {
        let set = SyncSetUp.dataset(count: 90)
        let initial = SyncSetUp.network()
        let log = LogLines()
        let context = try Context()
        let configuration = overlap ? Self.configuration(.sgd) : SyncSetUp.configuration(.sgd)
        let server = try ParameterServer(
            context: context, bind: "tcp://127.0.0.1:*", weights: Array(initial.parameters), fingerprint: initial.fingerprint,
            configuration: configuration, dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 1, maxSteps: 1, joinTimeout: .seconds(20), stepTimeout: .seconds(20)),
            events: .init(logger: .lines(log.append)))
        async let finished: [Float]? = try? server.run()
        let peer = try await ScriptedPeer.join(context: context, endpoint: server.endpoint, set: set, name: "parts-peer")
        let batch = ShardPlan(sampleCount: set.count, workerCount: 1, batchSizePerWorker: configuration.batchSizePerWorker)
            .positions(step: 0, rank: 0).count
        for part in parts { peer.send(.gradientPart(part), step: 0, fingerprint: initial.fingerprint) }
        peer.push(GradientPush(sampleCount: batch, meanLoss: 0.5, gradient: .array([Float](repeating: 0.01, count: first)),
                               restSentInParts: first < initial.parameterCount), step: 0, fingerprint: initial.fingerprint)
        let reply = try await peer.next(within: 10)
        let reason: String?
        switch reply.body {
        case .error(let text): reason = text
        case .weights, .stop: reason = nil
        default: reason = "unexpected \(reply.type)"
        }
        server.requestStop(reason: "the test has its answer", savingState: false)
        _ = await finished
        peer.pump.close()
        await server.close()
        return (reason, log.lines)
    }

    /// The two new frames are checked before anything is read out of them.
    @Test func decodingChecksPartsAndPushesInParts() throws {
        let fingerprint = Fixtures.fingerprint, count = Fixtures.parameterCount
        func part(offset: Int, floats: Int) -> [[UInt8]] {
            WireMessage(sender: 1, step: 3, fingerprint: fingerprint, body: .gradientPart(
                GradientPart(offset: offset, values: .array(Fixtures.floats(floats))))).encodedBytes()
        }
        func push(first: Int, encoded: Bool = false) -> [[UInt8]] {
            var frames = WireMessage(sender: 1, step: 3, fingerprint: fingerprint, body: .pushGradient(GradientPush(
                sampleCount: 8, meanLoss: 0.5, gradient: .array(Fixtures.floats(first)), restSentInParts: true))).encodedBytes()
            if encoded { poke(MessageFlags([.partsSent, .encoded]).rawValue, into: &frames[0], at: 12) }
            return frames
        }
        let decoded = try Fixtures.decode(part(offset: 4, floats: 8))
        #expect(decoded.body == .gradientPart(GradientPart(offset: 4, values: .array(Fixtures.floats(8)))))
        #expect(try Fixtures.decode(push(first: 4)).body == .pushGradient(GradientPush(
            sampleCount: 8, meanLoss: 0.5, gradient: .array(Fixtures.floats(4)), restSentInParts: true)))
        #expect(Fixtures.error(decoding: part(offset: 0, floats: 8))
                == .fieldOutOfRange(field: "part offset", value: "0", allowed: "1…4 for a part of 8 floats"))
        #expect(Fixtures.error(decoding: part(offset: 5, floats: 8))
                == .fieldOutOfRange(field: "part offset", value: "5", allowed: "1…4 for a part of 8 floats"))
        #expect(Fixtures.error(decoding: part(offset: 1, floats: count))
                == .frameSize(frame: "gradient part", bytes: 4 * count, expected: 4...4 * (count - 1)))
        #expect(Fixtures.error(decoding: push(first: count))
                == .frameSize(frame: "gradient (first values)", bytes: 4 * count, expected: 4...4 * (count - 1)))
        #expect(Fixtures.error(decoding: push(first: 4, encoded: true)) == .unexpectedFlags(.pushGradient, flags: 6))
        var empty = part(offset: 4, floats: 1)
        empty[2] = []
        poke(UInt64(8), into: &empty[0], at: 32)
        #expect(Fixtures.error(decoding: empty) == .frameSize(frame: "gradient part", bytes: 0, expected: 4...4 * (count - 1)))
    }
}
