import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// Compressed pushes and weight deltas over real ZeroMQ sockets: the replica rule, codecs in every
/// mode, and what a peer that lies or disagrees gets.
@Suite(.timeLimit(.minutes(2))) struct CompressionTests {
    /// Sync, 2 workers, 3 steps an epoch for 4 epochs, with `codec` both ways: the weights each worker
    /// computes on are the same on both workers at every step (one replica, the same frames), and at
    /// the first step of every epoch they equal the server's weights after the epoch before, bit for bit.
    @Test(arguments: ["bf16", "fp16", "topk:0.05"])
    func everyReplicaEqualsTheServerAfterEveryEpoch(codec: String) async throws {
        let choice = try CodecChoice(parsing: codec)
        let set = SyncSetUp.dataset(count: 96)
        var configuration = SyncSetUp.configuration(.sgd, epochs: 4)
        (configuration.compress, configuration.compressWeights) = (choice, choice)
        let plan = ShardPlan(sampleCount: set.count, workerCount: 2, batchSizePerWorker: configuration.batchSizePerWorker)
        #expect(plan.stepsPerEpoch == 3)
        let initial = SyncSetUp.network()
        let probed = WeightProbe().network()
        try #require(probed.fingerprint == initial.fingerprint && Array(probed.parameters) == Array(initial.parameters),
                     "the probe must not change the model")
        let summaries = Summaries()
        let context = try Context()
        let server = try ParameterServer(
            context: context, bind: "tcp://127.0.0.1:*", weights: Array(initial.parameters), fingerprint: initial.fingerprint,
            configuration: configuration, dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, joinTimeout: .seconds(20), stepTimeout: .seconds(30)),
            events: .init(logger: .lines({ _ in }), onEpochEnd: summaries.append))
        let probes = [WeightProbe(), WeightProbe()]
        let workers = try probes.map { probe in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(20), heartbeatTimeout: .seconds(20), logger: .discarding)) { _ in
                probe.network()
            }
        }
        async let finalWeights = server.run()
        let pushed = try await pushCounts(running: workers)
        _ = try await finalWeights
        for worker in workers { await worker.close() }
        await server.close()

        #expect(pushed == [12, 12])
        let seen = probes.map(\.records)
        try #require(seen.allSatisfy { $0.count == 12 }, "each worker computes 12 steps: \(seen.map(\.count))")
        for step in 0..<12 {
            #expect(seen[0][step].map(\.bitPattern) == seen[1][step].map(\.bitPattern), "\(codec): the replicas differ at step \(step)")
        }
        let epochs = summaries.all
        try #require(epochs.count == 4)
        for epoch in 1..<4 {
            let first = seen[0][epoch * plan.stepsPerEpoch]
            #expect(first.map(\.bitPattern) == epochs[epoch - 1].weights.map(\.bitPattern),
                    "\(codec): the replica at the start of epoch \(epoch + 1) is not the server's weights after epoch \(epoch)")
        }
        // Within an epoch the workers compute on the replica, which a lossy codec keeps close to, not
        // equal to, the server's weights; the first step starts from the initial weights themselves.
        #expect(seen[0][0].map(\.bitPattern) == Array(initial.parameters).map(\.bitPattern))
        #expect(seen[0][1] != seen[0][0], "the weights must move")
        let traffic = epochs.flatMap(\.ranks)
        let dense = plan.stepsPerEpoch * 4 * initial.parameterCount
        #expect(traffic.allSatisfy { $0.receivedBytes < dense }, "\(codec): pushes must be smaller than float32: \(traffic.map(\.receivedBytes))")
    }

    /// Async and SSP keep one replica per rank: both train to the end with compressed pushes and
    /// deltas, and the weights move.
    @Test(arguments: [TrainingMode.async, .ssp], ["bf16", "topk:0.1"])
    func fixedRanksTrainWithCompressionBothWays(mode: TrainingMode, codec: String) async throws {
        let choice = try CodecChoice(parsing: codec)
        let set = SyncSetUp.dataset(count: 96)
        var configuration = SyncSetUp.configuration(.sgd, mode: mode, epochs: 3)
        (configuration.compress, configuration.compressWeights) = (choice, choice)
        let initial = SyncSetUp.network()
        let context = try Context()
        let server = try ParameterServer(
            context: context, bind: "tcp://127.0.0.1:*", weights: Array(initial.parameters), fingerprint: initial.fingerprint,
            configuration: configuration, dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, joinTimeout: .seconds(20), stepTimeout: .seconds(30)),
            events: .init(logger: .lines({ _ in })))
        let workers = try (0..<2).map { _ in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(20), heartbeatTimeout: .seconds(20), logger: .discarding)) { _ in
                SyncSetUp.network()
            }
        }
        async let finalWeights = server.run()
        let pushed = try await pushCounts(running: workers)
        let weights = try await finalWeights
        for worker in workers { await worker.close() }
        await server.close()
        #expect(pushed == [9, 9], "\(mode) \(codec)")
        #expect(await server.completedUpdates == 18)
        #expect(weights.indices.contains { abs(weights[$0] - initial.parameters[$0]) > 1e-3 }, "the weights must have moved")
        #expect(weights.allSatisfy { $0.isFinite })
    }

    /// Pushes that do not follow the run's codec, sent by a real peer over real sockets, are refused
    /// with an error naming what was wrong; the peer is let go and the real worker trains on alone.
    @Test(arguments: [
        ("bf16", Lie.dense), ("bf16", .shortFrame), ("none", .encodedInADenseRun),
        ("topk:0.5", .repeatedIndex), ("topk:0.5", .indexBeyondTheModel), ("topk:0.5", .countBeyondTheModel),
    ])
    func aPushThatLiesIsRefused(codec: String, lie: Lie) async throws {
        let set = SyncSetUp.dataset(count: 90)
        var configuration = SyncSetUp.configuration(.sgd, epochs: 2)
        configuration.compress = try CodecChoice(parsing: codec)
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
        let peer = try await ScriptedPeer.join(context: context, endpoint: server.endpoint, set: set, name: "lying-peer")
        let worker = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                settings: Worker.Settings(timeout: .seconds(20), heartbeatTimeout: .seconds(20), logger: .discarding)) { _ in SyncSetUp.network() }
        let workerRun = Task { try await worker.run() }
        _ = try #require(await changes.wait(for: { $0.kind == .joined && $0.worldSize == 2 }), "\(serverLog.lines)")
        let samples = plan.positions(step: 0, rank: peer.welcome.slot).count
        peer.push(lie.push(samples: samples, parameterCount: initial.parameterCount), step: 0, fingerprint: initial.fingerprint)
        let answer = try await peer.next(within: 10)
        guard case .error(let reason) = answer.body else {
            Issue.record("\(lie): expected an error, got \(answer.type)")
            return
        }
        #expect(reason.hasPrefix("a push-gradient for step 0 ") && reason.contains(lie.reason), "\(lie): \(reason)")
        _ = try #require(await changes.wait(for: { $0.kind == .removed }), "\(serverLog.lines)")
        let statistics = try await workerRun.value
        let weights = try await finalWeights
        #expect(statistics.pushes > 0)
        #expect(weights.allSatisfy { $0.isFinite })
        #expect(await server.rejectedGradients == 0, "nothing of the lie may be applied or even weighed")
        peer.pump.close()
        await worker.close()
        await server.close()
    }

    /// A scripted server that sends a real worker a weights-delta that does not decode: the worker
    /// ends with an error naming the frame and tells the server, instead of training on wrong weights.
    @Test(arguments: [DeltaLie.wrongSize, .unsortedIndices, .deltaInADenseRun])
    func aWeightsDeltaThatLiesEndsTheWorker(lie: DeltaLie) async throws {
        let set = SyncSetUp.dataset(count: 64)
        let model = SyncSetUp.network()
        var configuration = SyncSetUp.configuration(.sgd)
        configuration.compressWeights = lie == .deltaInADenseRun ? .none : .topK(fraction: 0.5)
        let context = try Context()
        let server = try SocketPump(context: context, type: .router, name: "lying-server") {
            try $0.set(.linger, 0)
            try $0.bind("tcp://127.0.0.1:*")
        }
        let worker = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in SyncSetUp.network() }
        let workerRun = Task { try await worker.run() }
        let description = DatasetDescription(describing: set, testCount: 0)
        var reported: String?
        scripted: for _ in 0..<20 {
            let frames = try #require(await server.mailbox.next(before: .now + .seconds(10)), "the worker said nothing")
            let (identity, message) = try WireMessage.decodeRouted(frames: frames, expectedFingerprint: nil, parameterCount: nil)
            let reply: MessageBody
            switch message.body {
            case .hello: reply = .setup(Setup(configuration: configuration, dataset: description))
            case .join: reply = .welcome(Welcome(rank: 0, worldSize: 1, configuration: configuration, weights: .array(Array(model.parameters))))
            case .pushGradient: reply = .weightsDelta(.bytes(lie.frame(parameterCount: model.parameterCount)))
            case .error(let reason):
                reported = reason
                break scripted
            default: continue scripted
            }
            server.send(WireMessage(sender: MessageHeader.serverSender, step: message.step + 1, fingerprint: model.fingerprint,
                                    body: reply).encoded(to: identity))
        }
        do {
            _ = try await workerRun.value
            Issue.record("\(lie): the worker went on")
        } catch let error as ClusterError {
            guard case .unreadableWeights(let reason) = error else {
                Issue.record("\(lie): \(error)")
                return
            }
            #expect(reason.contains(lie.reason), "\(lie): \(reason)")
        }
        #expect(reported?.contains(lie.reason) == true, "\(lie): the server was told \(String(describing: reported))")
        await worker.close()
        server.close()
    }

    /// A worker told to expect other codecs than the server's run uses stops before joining, and both
    /// sides say why.
    @Test func aWorkerThatDisagreesOnTheCodecStopsAndSaysWhy() async throws {
        let set = SyncSetUp.dataset(count: 64)
        var configuration = SyncSetUp.configuration(.sgd)
        (configuration.compress, configuration.compressWeights) = (.bf16, .topK(fraction: 0.01))
        let initial = SyncSetUp.network()
        let serverLog = LogLines()
        let context = try Context()
        let server = try ParameterServer(
            context: context, bind: "tcp://127.0.0.1:*", weights: Array(initial.parameters), fingerprint: initial.fingerprint,
            configuration: configuration, dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 1, joinTimeout: .seconds(5), stepTimeout: .seconds(5)),
            events: .init(logger: .lines(serverLog.append)))
        let serverRun = Task { try await server.run() }
        let worker = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                settings: Worker.Settings(timeout: .seconds(30), compress: .fp16, compressWeights: .topK(fraction: 0.01),
                                                          logger: .discarding)) { _ in SyncSetUp.network() }
        await #expect(throws: ClusterError.codecMismatch("the worker has --compress fp16, the server's run bf16")) { try await worker.run() }
        await #expect(throws: ClusterError.self) { try await serverRun.value }
        #expect(serverLog.lines.contains { $0.contains("disagrees on compression: the worker has --compress fp16, the server's run bf16") },
                "\(serverLog.lines)")
        #expect(await worker.assignedRank == nil, "it must not have joined")
        await worker.close()
        await server.close()
    }

    /// The configuration carries the codecs by name, a configuration or state file without them means
    /// none, and a bad name is an error naming the key.
    @Test func theConfigurationCarriesTheCodecs() throws {
        var configuration = SyncSetUp.configuration(.sgd)
        let plain = String(decoding: configuration.encodedJSON(), as: UTF8.self)
        #expect(!plain.contains("compress"), "a run without compression writes what version 3 wrote: \(plain)")
        #expect(try TrainingConfiguration(json: configuration.encodedJSON()).compress == .none)
        (configuration.compress, configuration.compressWeights) = (.topK(fraction: 0.01), .bf16)
        let json = String(decoding: configuration.encodedJSON(), as: UTF8.self)
        #expect(json.contains(#""compress":"topk:0.01""#) && json.contains(#""compress_weights":"bf16""#), "\(json)")
        #expect(try TrainingConfiguration(json: configuration.encodedJSON()) == configuration)
        let bad = Array(json.replacingOccurrences(of: #""compress":"topk:0.01""#, with: #""compress":"topk:2""#).utf8)
        #expect(throws: ProtocolError.invalidJSON(frame: "configuration", reason: "bad value at \"compress\"")) {
            try TrainingConfiguration(json: bad)
        }
    }

    /// A codec frame in a message is bounded by the largest frame any codec writes, before any codec reads it.
    @Test func codecFramesAreBoundedBeforeDecoding() throws {
        let count = Fixtures.parameterCount
        let delta = WireMessage(sender: MessageHeader.serverSender, step: 3, fingerprint: Fixtures.fingerprint,
                                body: .weightsDelta(.bytes([UInt8](repeating: 1, count: 4 + 8 * count + 1))))
        #expect(Fixtures.error(decoding: delta.encodedBytes())
                == .frameSize(frame: "weights delta", bytes: 4 + 8 * count + 1, expected: 1...(4 + 8 * count)))
        let empty = WireMessage(sender: MessageHeader.serverSender, step: 3, fingerprint: Fixtures.fingerprint, body: .weightsDelta(.bytes([])))
        #expect(Fixtures.error(decoding: empty.encodedBytes()) == .frameSize(frame: "weights delta", bytes: 0, expected: 1...(4 + 8 * count)))
        let push = WireMessage(sender: 0, step: 3, fingerprint: Fixtures.fingerprint, body: .pushGradient(GradientPush(
            sampleCount: 4, meanLoss: 1, gradient: .array([]), encodedGradient: .bytes([UInt8](repeating: 0, count: 2 * count)))))
        let frames = push.encodedBytes()
        #expect(frames[0][12] == 2, "the encoded flag is bit 1")
        let decoded = try Fixtures.decode(frames)
        guard case .pushGradient(let received) = decoded.body else {
            Issue.record("decoded \(decoded.type)")
            return
        }
        #expect(received.encodedGradient?.bytes == [UInt8](repeating: 0, count: 2 * count) && received.gradient.count == 0)
        let values = try #require(received.encodedGradient).bytes
        #expect(try BFloat16Codec().decode(values, count: count) == [Float](repeating: 0, count: count))
    }
}

/// A push that breaks the run's codec.
enum Lie: String, CustomStringConvertible, Sendable {
    case dense, shortFrame, encodedInADenseRun, repeatedIndex, indexBeyondTheModel, countBeyondTheModel

    var description: String { rawValue }

    func push(samples: Int, parameterCount: Int) -> GradientPush {
        func topK(_ k: UInt32, _ indices: [UInt32]) -> EncodedVector {
            var writer = ByteWriter(capacity: 4 + 8 * indices.count)
            writer.append(k)
            for index in indices { writer.append(index) }
            for _ in indices { writer.append(Float(0.5).bitPattern) }
            return .bytes(writer.bytes)
        }
        let zeros = [Float](repeating: 0, count: parameterCount)
        return switch self {
        case .dense: GradientPush(sampleCount: samples, meanLoss: 1, gradient: .array(zeros))
        case .shortFrame:
            GradientPush(sampleCount: samples, meanLoss: 1, gradient: .array([]), encodedGradient: .bytes([UInt8](repeating: 0, count: 2 * parameterCount - 2)))
        case .encodedInADenseRun:
            GradientPush(sampleCount: samples, meanLoss: 1, gradient: .array([]), encodedGradient: .bytes([UInt8](repeating: 0, count: 2 * parameterCount)))
        case .repeatedIndex:
            GradientPush(sampleCount: samples, meanLoss: 1, gradient: .array([]), encodedGradient: topK(3, [4, 9, 9]))
        case .indexBeyondTheModel:
            GradientPush(sampleCount: samples, meanLoss: 1, gradient: .array([]), encodedGradient: topK(2, [4, UInt32(parameterCount)]))
        case .countBeyondTheModel:
            // Sized as a frame of P − 1 values, so the message's bound lets it through to the codec.
            GradientPush(sampleCount: samples, meanLoss: 1, gradient: .array([]),
                         encodedGradient: topK(UInt32(parameterCount + 1), Array(0..<UInt32(parameterCount - 1))))
        }
    }

    /// What the server's error must say.
    var reason: String {
        switch self {
        case .dense: "is float32, but this run's pushes are written with bf16"
        case .shortFrame: "bf16 frame has"
        case .encodedInADenseRun: "is compressed, but this run's pushes are float32"
        case .repeatedIndex: "index 2 is 9: not above the one before it"
        case .indexBeyondTheModel: "index 1 is"
        case .countBeyondTheModel: "more than the"
        }
    }
}

/// A weights-delta that lies.
enum DeltaLie: String, CustomStringConvertible, Sendable {
    case wrongSize, unsortedIndices, deltaInADenseRun

    var description: String { rawValue }

    func frame(parameterCount: Int) -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        switch self {
        case .wrongSize:
            writer.append(UInt32(2))
            writer.append(UInt32(1))
        case .unsortedIndices, .deltaInADenseRun:
            writer.append(UInt32(2))
            for index: UInt32 in [7, 3] { writer.append(index) }
            for _ in 0..<2 { writer.append(Float(1).bitPattern) }
        }
        return writer.bytes
    }

    /// What the worker's error must say.
    var reason: String {
        switch self {
        case .wrongSize: "frame has 8 bytes, expected 20"
        case .unsortedIndices: "index 1 is 3: not above the one before it"
        case .deltaInADenseRun: "this run's weights are not compressed"
        }
    }
}

/// Records the weights a worker computes each step on: a parameter-free layer at the end of the model
/// that copies the whole model's parameters at each training forward pass (on the worker's thread).
final class WeightProbe: @unchecked Sendable {
    // Unchecked: `stored` is guarded by `lock`; the model is read only on the worker's thread.
    private let lock = NSLock()
    private var stored: [[Float]] = []

    /// `SyncSetUp.network()` with the probe's layer after it (the same parameters and fingerprint).
    func network() -> Model {
        let layer = ProbeLayer(probe: self)
        let model = Model(Sequential([("fc1", Linear(12, 16) as any Layer), ("relu", ReLU()), ("fc2", Linear(16, 5)), ("probe", layer)]),
                          seed: 3)
        layer.model = model
        return model
    }

    /// The weights of each training step so far.
    var records: [[Float]] { lock.withLock { stored } }

    fileprivate func record(_ weights: [Float]) { lock.withLock { stored.append(weights) } }

    private final class ProbeLayer: Layer {
        let probe: WeightProbe
        weak var model: Model?

        init(probe: WeightProbe) { self.probe = probe }

        func forward(_ input: Tensor, mode: Mode) -> Tensor {
            if mode == .training, let model { probe.record(Array(model.parameters)) }
            return input
        }

        func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? { outputGradient }
    }
}
