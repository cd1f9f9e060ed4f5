import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// A worker restarted at once after a crash (what systemd's `Restart=on-failure` does) finds its old
/// self still holding a place: it waits for that place instead of being refused, and the run ends with
/// as many workers as it started with; a worker paused past the end of the run hears that it ended.
@Suite(.timeLimit(.minutes(1))) struct RestartedWorkerTests {
    static let interval = Duration.milliseconds(100), timeout = Duration.seconds(2)

    /// 2 workers, one of them a peer that hangs after 2 steps (its crash: silent, connection open). A
    /// replacement connects at once, while every place is still taken. It waits, takes the place the
    /// server frees when it drops the silent peer, and trains to the end; the last epoch has 2 workers.
    @Test(arguments: [TrainingMode.sync, .async])
    func aWorkerRestartedAtOnceWaitsForThePlaceOfTheDeadOne(mode: TrainingMode) async throws {
        let set = SyncSetUp.dataset(count: 150)
        let configuration = SyncSetUp.configuration(.sgd, mode: mode, epochs: 4)
        let initial = SyncSetUp.network()
        let summaries = Summaries(), changes = MembershipChanges(), serverLog = LogLines()
        let context = try Context()
        let server = try ParameterServer(
            context: context, bind: "tcp://127.0.0.1:*", weights: Array(initial.parameters), fingerprint: initial.fingerprint,
            configuration: configuration, dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, joinTimeout: .seconds(30), stepTimeout: .seconds(30),
                            heartbeatInterval: Self.interval, heartbeatTimeout: Self.timeout),
            events: .init(logger: .lines(serverLog.append), onMembershipChange: changes.append, onEpochEnd: summaries.append))
        async let finalWeights = server.run()
        func worker() throws -> Worker {
            try Worker(context: context, connect: server.endpoint,
                       settings: Worker.Settings(timeout: .seconds(15), heartbeatInterval: Self.interval * 2,
                                                 heartbeatTimeout: .seconds(5), logger: .discarding)) { _ in
                Replica(model: SyncSetUp.network(), trainingSet: set, testCount: 0, objective: .classification)
            }
        }
        let survivor = try worker()
        let survivorRun = Task { try await survivor.run() }
        let peer = try await HangingPeer.start(context: context, endpoint: server.endpoint, set: set, fingerprint: initial.fingerprint,
                                               parameterCount: initial.parameterCount, steps: 2)
        let replacement = try worker()
        let replacementRun = Task { try await replacement.run() }
        let replaced = try await replacementRun.value
        _ = try await survivorRun.value
        _ = try await finalWeights

        #expect(replaced.pushes > 0, "the replacement must train: \(serverLog.lines)")
        #expect(!serverLog.lines.contains { $0.contains("refused a worker") }, "\(serverLog.lines)")
        #expect(serverLog.lines.contains { $0.contains("a worker waits for a place") }, "\(serverLog.lines)")
        let dropped = try #require(changes.all.first { $0.kind == .dropped }, "\(serverLog.lines)")
        #expect(dropped.rank == peer.rank)
        let joins = changes.all.filter { $0.kind == .joined }
        #expect(joins.count == 3, "the survivor, the peer and the replacement: \(changes.all)")
        #expect(summaries.all.last?.worldSize == 2, "the run must not go on one short: \(summaries.all.map(\.worldSize))")
        if mode == .sync { #expect(summaries.all.map(\.samples) == [150, 150, 150, 150]) }
        for worker in [survivor, replacement] { await worker.close() }
        peer.pump.close()
        await server.close()
    }

    /// A worker dropped as silent (paused) that reads the server's messages only after the run ended is
    /// told stop, and ends as the run did instead of looking for a server that is gone.
    @Test func aWorkerDroppedAsSilentHearsThatTheRunEnded() async throws {
        let set = SyncSetUp.dataset(count: 150)
        let configuration = SyncSetUp.configuration(.sgd, epochs: 2)
        let initial = SyncSetUp.network()
        let context = try Context()
        let serverLog = LogLines()
        let server = try ParameterServer(
            context: context, bind: "tcp://127.0.0.1:*", weights: Array(initial.parameters), fingerprint: initial.fingerprint,
            configuration: configuration, dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, joinTimeout: .seconds(30), stepTimeout: .seconds(30),
                            heartbeatInterval: Self.interval, heartbeatTimeout: Self.timeout),
            events: .init(logger: .lines(serverLog.append)))
        async let finalWeights = server.run()
        let worker = try Worker(context: context, connect: server.endpoint, settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in
            Replica(model: SyncSetUp.network(), trainingSet: set, testCount: 0, objective: .classification)
        }
        let workerRun = Task { try await worker.run() }
        let peer = try await HangingPeer.start(context: context, endpoint: server.endpoint, set: set, fingerprint: initial.fingerprint,
                                               parameterCount: initial.parameterCount, steps: 1)
        _ = try await workerRun.value
        _ = try await finalWeights
        // The paused peer goes on: past the heartbeats it missed, its next word from the server is stop.
        var heard: [MessageType] = []
        while heard.last != .stop, heard.count < 200,
              let frames = await peer.pump.mailbox.next(before: .now + .seconds(5)) {
            heard.append(try WireMessage.decode(frames: frames, expectedFingerprint: nil, parameterCount: nil).type)
        }
        #expect(heard.last == .stop, "the dropped peer heard \(heard): \(serverLog.lines)")
        await worker.close()
        peer.pump.close()
        await server.close()
    }
}
