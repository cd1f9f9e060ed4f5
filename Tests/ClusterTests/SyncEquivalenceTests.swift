import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// Synchronous training over real ZeroMQ sockets: a parameter server and workers in one process.
@Suite(.timeLimit(.minutes(1))) struct SyncEquivalenceTests {
    /// A server and 2 workers of batch 32, for 20 steps that cross epoch ends with a partial global batch
    /// (150 samples: 64, 64, 22), end with the weights of one process training with batch 64 on the same order.
    @Test(arguments: [OptimizerKind.sgd, .adam], ["inproc", "tcp"])
    func twoWorkersEqualOneProcessWithTheDoubleBatch(optimizer: OptimizerKind, transport: String) async throws {
        let set = SyncSetUp.dataset(count: 150)
        let configuration = SyncSetUp.configuration(optimizer, batchSize: 32)
        let workers = 2, steps = 20
        let plan = ShardPlan(sampleCount: set.count, workerCount: workers, batchSizePerWorker: configuration.batchSizePerWorker)
        #expect(plan.stepsPerEpoch == 3 && set.count % plan.globalBatchSize != 0, "the run must cross partial batches")

        let expected = SyncSetUp.singleProcess(set, configuration: configuration, globalBatch: plan.globalBatchSize, steps: steps)
        let initial = SyncSetUp.network()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: transport == "tcp" ? "tcp://127.0.0.1:*" : "inproc://sync-\(UUID().uuidString)",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: workers, maxSteps: steps, joinTimeout: .seconds(30), stepTimeout: .seconds(30)),
            events: .init(logger: .lines({ _ in })))
        if transport == "tcp" { #expect(server.endpoint.hasPrefix("tcp://127.0.0.1:")) }
        let replicas = try (0..<workers).map { _ in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in
                SyncSetUp.network()
            }
        }
        async let finalWeights = server.run()
        let pushed = try await pushCounts(running: replicas)
        let weights = try await finalWeights
        #expect(pushed == [steps, steps])
        #expect(await server.completedUpdates == steps)
        #expect(Set(await replicas.asyncMap { await $0.assignedRank }) == [0, 1])
        for worker in replicas { await worker.close() }
        await server.close()

        var worst: Float = 0
        for index in weights.indices {
            worst = max(worst, abs(weights[index] - expected[index]) / max(abs(expected[index]), 1e-3))
        }
        #expect(worst < 1e-4, "\(optimizer) over \(transport): max relative weight difference \(worst) after \(steps) steps")
        if ProcessInfo.processInfo.environment["CLUSTER_TESTS_VERBOSE"] != nil {
            print("[ClusterTests] sync 2×32 vs one process ×64, \(optimizer) over \(transport), \(steps) steps: max relative difference \(worst)")
        }
        #expect(weights.indices.contains { abs(weights[$0] - initial.parameters[$0]) > 1e-3 }, "the weights must have moved")
    }

    /// A worker with another data-set size is refused with a reason on both sides; the server then trains
    /// with the workers whose data matches.
    @Test func aWorkerWithOtherDataIsRefusedAndTheServerKeepsGoing() async throws {
        let set = SyncSetUp.dataset(count: 90)
        let initial = SyncSetUp.network()
        let serverLog = LogLines()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "tcp://127.0.0.1:*",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: SyncSetUp.configuration(.sgd),
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, maxSteps: 5, joinTimeout: .seconds(30), stepTimeout: .seconds(30)),
            events: .init(logger: .lines(serverLog.append)))
        async let finalWeights = server.run()

        let stranger = try Worker(context: context, connect: server.endpoint, trainingSet: SyncSetUp.dataset(count: 80),
                                  settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in SyncSetUp.network() }
        let error = await #expect(throws: ClusterError.self) { try await stranger.run() }
        guard case .refused(let reason)? = error else {
            Issue.record("expected a refusal, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("data set differs") && reason.contains("90 training") && reason.contains("80 training"), "\(reason)")
        #expect(error?.description.hasPrefix("the server refused this worker: data set differs") == true)
        #expect(await stranger.assignedRank == nil)
        await stranger.close()

        let workers = try (0..<2).map { _ in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in
                SyncSetUp.network()
            }
        }
        let pushed = try await pushCounts(running: workers)
        _ = try await finalWeights
        #expect(pushed == [5, 5])
        #expect(serverLog.lines.contains { $0.contains("refused a worker: data set differs") }, "\(serverLog.lines)")
        for worker in workers { await worker.close() }
        await server.close()
    }

    /// A join in another protocol version gets an error naming both versions; the server then trains as usual.
    @Test func aJoinInAnotherProtocolVersionIsAnsweredWithAnError() async throws {
        let set = SyncSetUp.dataset(count: 90)
        let initial = SyncSetUp.network()
        let serverLog = LogLines()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "tcp://127.0.0.1:*",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: SyncSetUp.configuration(.sgd),
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 1, maxSteps: 2, joinTimeout: .seconds(30), stepTimeout: .seconds(30)),
            events: .init(logger: .lines(serverLog.append)))
        async let finalWeights = server.run()

        let raw = try SocketPump(context: context, type: .dealer, name: "old-worker") { [endpoint = server.endpoint] in
            try $0.connect(endpoint)
        }
        let mailbox = raw.mailbox
        var frames = WireMessage(sender: MessageHeader.unassignedSender,
                                 body: .join(DatasetDescription(describing: set, testCount: 0))).encodedBytes()
        poke(MessageHeader.currentVersion + 1, into: &frames[0], at: 4)
        raw.send(frames.map { Frame($0) })
        let reply = try #require(await mailbox.next(before: .now + .seconds(5)), "no answer to a join in another version")
        // The refusal is in the peer's version, the only one an older peer reads.
        #expect(try MessageHeader(decoding: reply[0].bytes).version == MessageHeader.currentVersion + 1)
        let message = try WireMessage.decode(frames: reply, expectedFingerprint: nil, parameterCount: nil)
        guard case .error(let reason) = message.body else {
            Issue.record("expected an error, got \(message.type)")
            return
        }
        #expect(reason == "protocol version \(MessageHeader.currentVersion + 1) is not supported; this side speaks version \(MessageHeader.currentVersion)")
        raw.close()

        let worker = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in SyncSetUp.network() }
        #expect(try await worker.run().pushes == 2)
        _ = try await finalWeights
        #expect(serverLog.lines.contains { $0.contains("dropped a message: protocol version \(MessageHeader.currentVersion + 1) is not supported") }, "\(serverLog.lines)")
        await worker.close()
        await server.close()
    }

    /// A server short of workers gives up at its deadline, says how many joined, and tells the ones that did.
    /// The deadline leaves the one worker time to join even when the whole suite loads both cores (its
    /// task has waited over 20 s for a thread of the cooperative pool there).
    @Test func aMissingWorkerEndsTheRunAtTheDeadlineOnBothSides() async throws {
        let set = SyncSetUp.dataset(count: 90)
        let initial = SyncSetUp.network()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "inproc://short-\(UUID().uuidString)",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: SyncSetUp.configuration(.adam),
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, maxSteps: 5, joinTimeout: .seconds(30), stepTimeout: .seconds(30)),
            events: .init(logger: .discarding))
        let worker = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in SyncSetUp.network() }
        let workerOutcome = Task { try await worker.run() }
        let serverError = await #expect(throws: ClusterError.self) { try await server.run() }
        #expect(serverError == .joinTimeout(joined: 1, expected: 2, seconds: 30))
        let workerError = await #expect(throws: ClusterError.self) { try await workerOutcome.value }
        #expect(workerError?.description.contains("only 1 of 2 workers joined within 30.0 s") == true, "\(String(describing: workerError))")
        await worker.close()
        await server.close()
    }
}

/// The data, model and reference training shared by the sync tests.
enum SyncSetUp {
    /// `count` samples of 12 features in 5 classes.
    static func dataset(count: Int, labelStride: Int = 7) -> LabeledDataset {
        var generator = SeededGenerator(seed: 41)
        let features = (0..<(count * 12)).map { _ in generator.nextUnitFloat() * 2 - 1 }
        let labels = (0..<count).map { Int32(($0 * labelStride) % 5) }
        return LabeledDataset(name: "random", sampleShape: [12], features: features, labels: labels, classCount: 5)
    }

    /// Linear(12→16)-ReLU-Linear(16→5), initialised from a fixed seed.
    static func network() -> Model {
        Model(Sequential([("fc1", Linear(12, 16) as any Layer), ("relu", ReLU()), ("fc2", Linear(16, 5))]), seed: 3)
    }

    /// Batch 16 per worker unless given, seed 9, enough epochs for 20 steps.
    static func configuration(_ optimizer: OptimizerKind, mode: TrainingMode = .sync, epochs: Int = 10,
                              batchSize: Int = 16) -> TrainingConfiguration {
        TrainingConfiguration(
            model: "tiny-mlp", dataset: "random",
            optimizer: optimizer == .sgd ? .sgd(learningRate: 0.05, momentum: 0.9) : .adam(learningRate: 0.01),
            batchSizePerWorker: batchSize, epochs: epochs, seed: 9, mode: mode, staleness: mode == .ssp ? 0 : nil
        )
    }

    /// The weights after `steps` steps of one process with batch `globalBatch` on the same per-epoch orders.
    static func singleProcess(_ set: LabeledDataset, configuration: TrainingConfiguration, globalBatch: Int, steps: Int) -> [Float] {
        let model = network()
        // Built here from the numbers, not through OptimizerSettings, so the comparison checks that too.
        let settings = configuration.optimizer
        let optimizer: any Optimizer = settings.kind == .sgd
            ? SGD(parameterCount: model.parameterCount, learningRate: settings.learningRate, momentum: settings.momentum)
            : Adam(parameterCount: model.parameterCount, learningRate: settings.learningRate)
        let loader = DataLoader(set, batchSize: globalBatch, shuffle: true, seed: configuration.seed)
        let criterion = Criterion(.classification)
        var done = 0
        for epoch in 1... {
            for batch in loader.epoch(epoch) {
                model.zeroGradients()
                _ = criterion.loss(model.forward(batch.inputs), labels: batch.labels, targets: batch.targets)
                model.backward(criterion.backward())
                optimizer.step(model)
                done += 1
                if done == steps { return Array(model.parameters) }
            }
        }
        return []
    }
}

/// Log lines collected from any thread.
final class LogLines: @unchecked Sendable {
    // Unchecked: `stored` is guarded by `lock`.
    private let lock = NSLock()
    private var stored: [String] = []

    /// Appends one line.
    func append(_ line: String) { lock.withLock { stored.append(line) } }

    /// The lines so far.
    var lines: [String] { lock.withLock { stored } }
}

extension Array {
    /// The results of an async transform, in order.
    func asyncMap<Result>(_ transform: (Element) async -> Result) async -> [Result] {
        var results: [Result] = []
        for element in self { results.append(await transform(element)) }
        return results
    }
}
