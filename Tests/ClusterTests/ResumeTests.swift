import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// A sync server writes its whole state; a new server resumed from it ends exactly where an
/// uninterrupted one does.
@Suite(.timeLimit(.minutes(1))) struct ResumeTests {
    /// Runs a server with 2 workers for `steps` steps (from `resume` if given), writing its state every
    /// `every` steps to `stateFile`; returns the final weights.
    private func run(_ optimizer: OptimizerKind, mode: TrainingMode = .sync, workers count: Int = 2, steps: Int,
                     stateFile: String? = nil, every: Int = 0, resume: ServerState? = nil) async throws -> [Float] {
        let set = SyncSetUp.dataset(count: 90)
        let initial = SyncSetUp.network()
        let context = try Context()
        let server = try ParameterServer(
            context: context,
            bind: "inproc://resume-\(UUID().uuidString)",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: SyncSetUp.configuration(optimizer, mode: mode),
            dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: count, maxSteps: steps, joinTimeout: .seconds(30), stepTimeout: .seconds(30), stateFile: stateFile, checkpointEvery: every),
            resume: resume,
            events: .init(logger: .lines({ _ in })))
        let workers = try (0..<count).map { _ in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in
                SyncSetUp.network()
            }
        }
        async let weights = server.run()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in workers { group.addTask { _ = try await worker.run() } }
            try await group.waitForAll()
        }
        let result = try await weights
        for worker in workers { await worker.close() }
        await server.close()
        return result
    }

    @Test(arguments: [OptimizerKind.sgd, .adam])
    func aResumedServerEndsWhereAnUninterruptedOneDoes(optimizer: OptimizerKind) async throws {
        let stateFile = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: stateFile) }
        let uninterrupted = try await run(optimizer, steps: 11)
        // 7 steps cross the end of epoch 2 (3 steps each, the last partial) and stop mid-epoch 3.
        _ = try await run(optimizer, steps: 7, stateFile: stateFile, every: 7)
        let state = try ServerState(contentsOf: stateFile)
        #expect(state.step == 7 && state.updates == 7 && state.optimizerStepCount == 7)
        #expect(state.epochPushes == 2 && state.epochSamples == 32, "one step of epoch 3 is done")
        #expect(state.optimizerBuffers.keys.sorted() == (optimizer == .sgd ? ["momentum_buffer"] : ["exp_avg", "exp_avg_sq"]))
        let resumed = try await run(optimizer, steps: 11, resume: state)
        #expect(resumed.map(\.bitPattern) == uninterrupted.map(\.bitPattern), "the resumed run must end bit for bit where the other does")
    }

    /// Async mode keeps each rank's own step and the epochs not yet reported. With one rank async is
    /// deterministic, so the resumed run must end bit for bit where the uninterrupted one does; with two,
    /// each rank resumes at its step and every epoch is still reported once.
    @Test func anAsyncServerResumesEachRankAtItsStep() async throws {
        let stateFile = FileManager.default.temporaryDirectory.appendingPathComponent("async-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: stateFile) }
        let uninterrupted = try await run(.adam, mode: .async, workers: 1, steps: 11)
        _ = try await run(.adam, mode: .async, workers: 1, steps: 7, stateFile: stateFile, every: 7)
        let state = try ServerState(contentsOf: stateFile)
        #expect(state.slotSteps == [7] && state.updates == 7)
        #expect(state.openEpochs.map(\.epoch) == [1], "epoch 1 (of 6 steps) is done, epoch 2 open: \(state.openEpochs)")
        let resumed = try await run(.adam, mode: .async, workers: 1, steps: 11, resume: state)
        #expect(resumed.map(\.bitPattern) == uninterrupted.map(\.bitPattern))

        _ = try await run(.sgd, mode: .async, steps: 5, stateFile: stateFile, every: 4)
        let twoRanks = try ServerState(contentsOf: stateFile)
        #expect(twoRanks.slotSteps.count == 2 && twoRanks.slotSteps.reduce(0, +) >= 4, "\(twoRanks.slotSteps)")
        let error = await #expect(throws: ClusterError.self) { try await run(.sgd, mode: .async, workers: 3, steps: 9, resume: twoRanks) }
        #expect(error == .cannotResume("it was saved with 2 async ranks, not 3"))
    }

    /// SSP keeps each rank's step as async does; with one rank it is deterministic, so a resumed run ends
    /// bit for bit where an uninterrupted one does, and its state file holds the staleness bound.
    @Test func anSSPServerResumesEachRankAtItsStep() async throws {
        let stateFile = FileManager.default.temporaryDirectory.appendingPathComponent("ssp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: stateFile) }
        let uninterrupted = try await run(.sgd, mode: .ssp, workers: 1, steps: 11)
        _ = try await run(.sgd, mode: .ssp, workers: 1, steps: 8, stateFile: stateFile, every: 4)
        let state = try ServerState(contentsOf: stateFile)
        #expect(state.slotSteps == [8] && state.configuration.mode == .ssp && state.configuration.staleness == 0)
        let resumed = try await run(.sgd, mode: .ssp, workers: 1, steps: 11, resume: state)
        #expect(resumed.map(\.bitPattern) == uninterrupted.map(\.bitPattern))
    }

    @Test func aStateFileRoundTripsAndBadFilesAreRefusedClearly() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("states-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let state = ServerState(
            configuration: SyncSetUp.configuration(.adam), dataset: DatasetDescription(describing: SyncSetUp.dataset(count: 90), testCount: 0),
            fingerprint: 0xFEED_BEEF, worldSize: 3, step: 17, completedSteps: 15, epoch: 5, offset: 48, updates: 16, optimizerStepCount: 16, epochPushes: 6,
            epochLossSum: 12.5, epochSamples: 48, epochUpdates: 2, weights: [1, -2, .pi],
            optimizerBuffers: ["exp_avg": [0.1, 0.2, 0.3], "exp_avg_sq": [0.01, 0.02, 0.03]])
        try state.write(to: folder + "/good")
        #expect(try ServerState(contentsOf: folder + "/good") == state)

        let bytes = try Data(contentsOf: URL(fileURLWithPath: folder + "/good"))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: folder + "/truncated"))
        let truncated = #expect(throws: CheckpointError.self) { try ServerState(contentsOf: folder + "/truncated") }
        #expect(truncated?.path == folder + "/truncated")
        let model = Model(Models.perceptron(inputs: 3, outputs: 1), seed: 1)
        try model.save(to: folder + "/model")
        let notState = #expect(throws: CheckpointError.self) { try ServerState(contentsOf: folder + "/model") }
        #expect(notState?.reason.contains("not a server state file") == true, "\(String(describing: notState))")
    }
}
