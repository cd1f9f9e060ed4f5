import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// Local-SGD mode over real ZeroMQ sockets: a parameter server and workers in one process.
@Suite(.timeLimit(.minutes(1))) struct LocalSGDTests {
    /// Rounds of one step with plain outer SGD of lr 1 and plain inner SGD are sync steps: 2 workers of
    /// batch 32 on 150 samples (epochs of 64, 64, 22), 20 rounds, end within 1e-6 of sync's weights.
    /// Not bit for bit: the server averages the weights' changes w − (w − lr·g) and subtracts them,
    /// which rounds differently from subtracting lr·g.
    @Test func oneStepRoundsWithPlainOuterSGDEqualSync() async throws {
        let set = SyncSetUp.dataset(count: 150)
        let inner = OptimizerSettings.sgd(learningRate: 0.05)
        let sync = LocalSGDSetUp.configuration(inner: inner, batchSize: 32, mode: .sync)
        let local = LocalSGDSetUp.configuration(inner: inner, batchSize: 32, syncEvery: 1, outer: .sgd(learningRate: 1))
        let expected = try await LocalSGDSetUp.run(sync, set: set, workers: 2, maxSteps: 20, transport: "tcp").weights
        let run = try await LocalSGDSetUp.run(local, set: set, workers: 2, maxSteps: 20, transport: "tcp")
        #expect(run.updates == 20 && run.pushes == [20, 20])
        let worst = zip(run.weights, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-6, "max absolute weight difference \(worst) after 20 rounds of 1 step")
        #expect(run.weights.map(\.bitPattern) != SyncSetUp.network().parameterValues.map(\.bitPattern), "the weights must have moved")
        if ProcessInfo.processInfo.environment["CLUSTER_TESTS_VERBOSE"] != nil {
            print("[ClusterTests] local-sgd H=1 vs sync, 20 steps over tcp: max absolute difference \(worst)")
        }
    }

    /// Rounds of 8 steps with inner SGD with momentum and outer Nesterov SGD: the server's weights are
    /// those of replicas trained by hand the same way (each round cut as sync cuts the global batch and
    /// ended early at an epoch's end, the changes averaged by samples), and every epoch covers every sample once.
    @Test(arguments: [OptimizerKind.sgd, .adam])
    func roundsOfEightStepsEqualReplicasTrainedByHand(inner kind: OptimizerKind) async throws {
        let set = SyncSetUp.dataset(count: 150)
        let inner: OptimizerSettings = kind == .sgd ? .sgd(learningRate: 0.05, momentum: 0.9) : .adam(learningRate: 0.01)
        let configuration = LocalSGDSetUp.configuration(inner: inner, batchSize: 16, epochs: 3, syncEvery: 3,
                                                        outer: TrainingConfiguration.defaultOuterOptimizer)
        // 150 samples in global batches of 32: 5 steps per epoch, so rounds of 3 and 2 steps.
        let summaries = Summaries()
        let run = try await LocalSGDSetUp.run(configuration, set: set, workers: 2, summaries: summaries)
        let expected = LocalSGDSetUp.replicasByHand(set, configuration: configuration, workers: 2, rounds: 6)
        #expect(run.updates == 6 && run.pushes == [6, 6])
        #expect(summaries.all.map(\.samples) == [150, 150, 150] && summaries.all.map(\.updates) == [2, 2, 2])
        var worst: Float = 0
        for index in expected.indices {
            worst = max(worst, abs(run.weights[index] - expected[index]) / max(abs(expected[index]), 1e-3))
        }
        #expect(worst < 1e-5, "inner \(kind): max relative difference \(worst) from replicas trained by hand")
    }

    /// A local-SGD server resumed from its state file (outer momentum included; inner SGD keeps no
    /// state) ends bit for bit where an uninterrupted one does.
    @Test func aResumedServerEndsWhereAnUninterruptedOneDoes() async throws {
        let stateFile = FileManager.default.temporaryDirectory.appendingPathComponent("local-state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: stateFile) }
        let set = SyncSetUp.dataset(count: 150)
        let configuration = LocalSGDSetUp.configuration(inner: .sgd(learningRate: 0.05), batchSize: 16, syncEvery: 4,
                                                        outer: TrainingConfiguration.defaultOuterOptimizer)
        let uninterrupted = try await LocalSGDSetUp.run(configuration, set: set, workers: 2, maxSteps: 9).weights
        // Rounds of 4, 1 step (epochs of 5 steps): 5 rounds stop in the middle of epoch 3.
        _ = try await LocalSGDSetUp.run(configuration, set: set, workers: 2, maxSteps: 5, stateFile: stateFile, every: 5)
        let state = try ServerState(contentsOf: stateFile)
        #expect(state.step == 5 && state.updates == 5 && state.epoch == 2 && state.offset == 128)
        #expect(state.optimizerBuffers.keys.sorted() == ["momentum_buffer"], "the outer optimiser's momentum is saved")
        let resumed = try await LocalSGDSetUp.run(configuration, set: set, workers: 2, maxSteps: 9, resume: state).weights
        #expect(resumed.map(\.bitPattern) == uninterrupted.map(\.bitPattern), "the resumed run must end bit for bit where the other does")
    }

    /// A peer that hangs after 2 rounds is dropped at the heartbeat timeout; the other two compute the
    /// abandoned round again, and every epoch still covers all 150 samples.
    @Test func aHangingWorkerIsDroppedAtARoundBoundaryAndNoSampleIsSkipped() async throws {
        let set = SyncSetUp.dataset(count: 150)
        let configuration = LocalSGDSetUp.configuration(inner: .sgd(learningRate: 0.05, momentum: 0.9), batchSize: 16, epochs: 3,
                                                        syncEvery: 2, outer: TrainingConfiguration.defaultOuterOptimizer)
        let initial = SyncSetUp.network()
        let summaries = Summaries(), changes = MembershipChanges(), serverLog = LogLines()
        let context = try Context()
        let server = try ParameterServer(
            context: context, bind: "tcp://127.0.0.1:*", weights: Array(initial.parameters), fingerprint: initial.fingerprint,
            configuration: configuration, dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 3, joinTimeout: .seconds(30), stepTimeout: .seconds(30),
                            heartbeatInterval: MembershipTests.interval, heartbeatTimeout: MembershipTests.timeout),
            events: .init(logger: .lines(serverLog.append), onMembershipChange: changes.append, onEpochEnd: summaries.append))
        async let finalWeights = server.run()
        let workers = try (0..<2).map { _ in
            try Worker(context: context, connect: server.endpoint,
                       settings: Worker.Settings(timeout: .seconds(30), heartbeatInterval: MembershipTests.interval * 2,
                                                 heartbeatTimeout: .seconds(5), logger: .discarding)) { _ in
                Replica(model: SyncSetUp.network(), trainingSet: set, testCount: 0, objective: .classification)
            }
        }
        let runs = workers.map { worker in Task { try await worker.run() } }
        let peer = try await HangingPeer.start(context: context, endpoint: server.endpoint, set: set, fingerprint: initial.fingerprint,
                                               parameterCount: initial.parameterCount, steps: 2, stepsPerRound: 2)
        for run in runs { _ = try await run.value }
        let weights = try await finalWeights
        let dropped = try #require(changes.all.first { $0.kind == .dropped }, "\(serverLog.lines)")
        #expect(dropped.rank == peer.rank && dropped.worldSize == 2)
        #expect(summaries.all.map(\.epoch) == [1, 2, 3])
        #expect(summaries.all.map(\.samples) == [150, 150, 150], "every sample of every epoch applied once")
        #expect(summaries.all.last?.worldSize == 2)
        #expect(weights.allSatisfy { $0.isFinite })
        for worker in workers { await worker.close() }
        peer.pump.close()
        await server.close()
    }

    /// 2 workers train in rounds of 4; after the first epoch a third starts and takes part from the next
    /// round with the current weights; every epoch covers every sample once.
    @Test func aLateJoinerTakesPartFromTheNextRound() async throws {
        let set = SyncSetUp.dataset(count: 1500)
        let configuration = LocalSGDSetUp.configuration(inner: .sgd(learningRate: 0.05), batchSize: 16, epochs: 20, syncEvery: 4,
                                                        outer: TrainingConfiguration.defaultOuterOptimizer)
        let initial = SyncSetUp.network()
        let summaries = Summaries(), changes = MembershipChanges()
        let context = try Context()
        let server = try ParameterServer(
            context: context, bind: "inproc://local-late-\(UUID().uuidString)", weights: Array(initial.parameters),
            fingerprint: initial.fingerprint, configuration: configuration, dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, maximumWorkers: 3, joinTimeout: .seconds(30), stepTimeout: .seconds(30),
                            heartbeatInterval: MembershipTests.interval, heartbeatTimeout: .seconds(5)),
            events: .init(logger: .lines({ _ in }), onMembershipChange: changes.append, onEpochEnd: summaries.append))
        async let finalWeights = server.run()
        func makeWorker() throws -> Worker {
            try Worker(context: context, connect: server.endpoint,
                       settings: Worker.Settings(timeout: .seconds(30), heartbeatInterval: MembershipTests.interval, logger: .discarding)) { _ in
                Replica(model: SyncSetUp.network(), trainingSet: set, testCount: 0, objective: .classification)
            }
        }
        let first = try (0..<2).map { _ in try makeWorker() }
        let runs = first.map { worker in Task { try await worker.run() } }
        let deadline = ContinuousClock.now + .seconds(20)
        while summaries.all.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        let late = try makeWorker()
        let lateRun = try await late.run()
        for run in runs { _ = try await run.value }
        _ = try await finalWeights
        #expect(changes.all.map(\.kind) == [.joined, .joined, .joined])
        #expect(lateRun.rank == 2 && lateRun.pushes > 0, "the late worker pushed \(lateRun.pushes) changes")
        #expect(summaries.all.count == 20 && summaries.all.allSatisfy { $0.samples == 1500 }, "\(summaries.all.map(\.samples))")
        #expect(summaries.all.first?.worldSize == 2 && summaries.all.last?.worldSize == 3)
        for worker in first + [late] { await worker.close() }
        await server.close()
    }

    /// A round longer than the server's heartbeat timeout (8 local steps of 0.3 s against 1 s) does not
    /// look like silence: the worker sends heartbeats between its local steps, and nobody is dropped.
    @Test func aRoundLongerThanTheHeartbeatTimeoutKeepsItsWorkers() async throws {
        let set = SyncSetUp.dataset(count: 300)
        let configuration = LocalSGDSetUp.configuration(inner: .sgd(learningRate: 0.05), batchSize: 16, epochs: 1, syncEvery: 8,
                                                        outer: TrainingConfiguration.defaultOuterOptimizer)
        let initial = SyncSetUp.network()
        let summaries = Summaries(), changes = MembershipChanges()
        let context = try Context()
        let server = try ParameterServer(
            context: context, bind: "inproc://local-slow-\(UUID().uuidString)", weights: Array(initial.parameters),
            fingerprint: initial.fingerprint, configuration: configuration, dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, joinTimeout: .seconds(30), stepTimeout: .seconds(20),
                            heartbeatInterval: .milliseconds(100), heartbeatTimeout: .seconds(1)),
            events: .init(logger: .discarding, onMembershipChange: changes.append, onEpochEnd: summaries.append))
        async let finalWeights = server.run()
        let workers = try (0..<2).map { _ in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(20), heartbeatInterval: .milliseconds(100), logger: .discarding)) { _ in
                // The same parameters (so the same fingerprint) behind a pause: a slow step.
                Model(Sequential([("fc1", Linear(12, 16) as any Layer), ("relu", ReLU()), ("fc2", Linear(16, 5)),
                                  ("pause", PauseLayer(seconds: 0.3))]), seed: 3)
            }
        }
        let pushed = try await pushCounts(running: workers)
        _ = try await finalWeights
        // 300 samples in global batches of 32: 10 steps, so rounds of 8 and 2.
        #expect(pushed == [2, 2])
        #expect(changes.all.map(\.kind) == [.joined, .joined], "\(changes.all)")
        #expect(summaries.all.map(\.samples) == [300])
        for worker in workers { await worker.close() }
        await server.close()
    }

    /// A configuration with rounds outside local-SGD mode, or local-SGD mode without them, is refused naming the field.
    @Test func roundSettingsOutsideTheirModeAreRefused() throws {
        var configuration = LocalSGDSetUp.configuration(inner: .sgd(learningRate: 0.1), batchSize: 8, syncEvery: 8,
                                                        outer: TrainingConfiguration.defaultOuterOptimizer)
        try configuration.check()
        let decoded = try TrainingConfiguration(json: configuration.encodedJSON())
        #expect(decoded == configuration && decoded.syncEvery == 8 && decoded.outerOptimizer?.nesterov == true)
        configuration.syncEvery = 0
        #expect(throws: ProtocolError.fieldOutOfRange(field: "configuration sync_every", value: "0", allowed: "1…1000000 in local-sgd mode")) {
            try configuration.check()
        }
        configuration.syncEvery = 8
        configuration.outerOptimizer = nil
        #expect(throws: ProtocolError.fieldOutOfRange(field: "configuration outer_optimizer", value: "none", allowed: "settings in local-sgd mode")) {
            try configuration.check()
        }
        configuration.mode = .sync
        #expect(throws: ProtocolError.fieldOutOfRange(field: "configuration sync_every", value: "8", allowed: "none in sync mode")) {
            try configuration.check()
        }
    }
}

/// The configurations, runs and reference training of the local-SGD tests.
enum LocalSGDSetUp {
    /// Seed 9 on the tiny MLP; local-SGD mode unless `mode` says otherwise.
    static func configuration(inner: OptimizerSettings, batchSize: Int, epochs: Int = 10, mode: TrainingMode = .localSGD,
                              syncEvery: Int? = nil, outer: OptimizerSettings? = nil) -> TrainingConfiguration {
        TrainingConfiguration(model: "tiny-mlp", dataset: "random", optimizer: inner, batchSizePerWorker: batchSize, epochs: epochs,
                              seed: 9, mode: mode, syncEvery: syncEvery, outerOptimizer: outer)
    }

    /// What a run ended with.
    struct Run {
        var weights: [Float]
        var updates: Int
        var pushes: [Int]
    }

    /// Runs a server with `workers` workers on `set` for `maxSteps` rounds (or all epochs), from `resume`
    /// if given, writing its state every `every` rounds to `stateFile`.
    static func run(_ configuration: TrainingConfiguration, set: LabeledDataset, workers count: Int, maxSteps: Int? = nil,
                    transport: String = "inproc", stateFile: String? = nil, every: Int = 0, resume: ServerState? = nil,
                    summaries: Summaries? = nil) async throws -> Run {
        let initial = SyncSetUp.network()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: transport == "tcp" ? "tcp://127.0.0.1:*" : "inproc://local-\(UUID().uuidString)",
            weights: Array(initial.parameters), fingerprint: initial.fingerprint, configuration: configuration,
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: count, maxSteps: maxSteps, joinTimeout: .seconds(30), stepTimeout: .seconds(30),
                            stateFile: stateFile, checkpointEvery: every),
            resume: resume,
            events: .init(logger: .lines({ _ in }), onEpochEnd: { summaries?.append($0) }))
        let workers = try (0..<count).map { _ in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in SyncSetUp.network() }
        }
        async let finalWeights = server.run()
        let pushed = try await pushCounts(running: workers)
        let weights = try await finalWeights
        let updates = await server.completedUpdates
        for worker in workers { await worker.close() }
        await server.close()
        return Run(weights: weights, updates: updates, pushes: pushed)
    }

    /// The weights after `rounds` rounds of `workers` replicas trained one after the other in this process
    /// as local-SGD mode trains them: built here from the cursor and the optimisers, not through the cluster.
    static func replicasByHand(_ set: LabeledDataset, configuration: TrainingConfiguration, workers: Int, rounds: Int) -> [Float] {
        let global = SyncSetUp.network()
        let replicas = (0..<workers).map { _ in SyncSetUp.network() }
        let inner = replicas.map { configuration.optimizer.makeOptimizer(parameterCount: $0.parameterCount) }
        let outer = configuration.outerOptimizer!.makeOptimizer(parameterCount: global.parameterCount)
        let loader = DataLoader(set, batchSize: configuration.batchSizePerWorker, shuffle: true, seed: configuration.seed)
        let criterion = Criterion(.classification)
        var cursor = EpochCursor(sampleCount: set.count, batchSizePerWorker: configuration.batchSizePerWorker)
        for _ in 0..<rounds {
            let start = Array(global.parameters)
            var changes: [(change: [Float], samples: Int)] = []
            for (slot, replica) in replicas.enumerated() {
                _ = replica.parameters.update(fromContentsOf: start)
                var samples = 0
                for step in cursor.roundSteps(configuration.syncEvery!, worldSize: workers) {
                    let positions = step.positions(slot: slot, worldSize: workers)
                    if positions.isEmpty { continue }
                    let order = DataLoader.order(count: set.count, seed: configuration.seed, epoch: step.epoch + 1)
                    _ = replica.computeGradients(on: loader.gather(positions, order: order), criterion: criterion)
                    inner[slot].step(replica)
                    samples += positions.count
                }
                changes.append((zip(start, replica.parameters).map { $0 - $1 }, samples))
            }
            let total = changes.reduce(0) { $0 + $1.samples }
            var mean = [Float](repeating: 0, count: start.count)
            for (change, samples) in changes {
                let share = Float(samples) / Float(total)
                for index in mean.indices { mean[index] += change[index] * share }
            }
            mean.withUnsafeBufferPointer { outer.step(parameters: global.parameters, gradients: $0) }
            cursor.advance(round: configuration.syncEvery!, worldSize: workers)
        }
        return Array(global.parameters)
    }
}
