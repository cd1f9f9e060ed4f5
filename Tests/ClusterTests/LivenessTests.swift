import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// Liveness depends only on heartbeats arriving: a step longer than the heartbeat timeout, a slow
/// epoch report and a server starved of its thread drop no live worker and fail no run.
@Suite(.timeLimit(.minutes(2))) struct LivenessTests {
    /// The server's heartbeats; its timeout is long enough that a loaded machine (the whole suite on
    /// 2 cores) drops no live worker, and shorter than each pause below.
    static let interval = Duration.milliseconds(100), timeout = Duration.seconds(2)

    /// What one run of `train` saw.
    private struct Run {
        var weights: [Float]
        var summaries: [EpochSummary]
        var changes: [MembershipChange]
        var serverLog: [String]
    }

    /// Sync over tcp with 2 workers on 48 samples (2 steps of 2 × 16 per epoch) for `epochs` epochs. The
    /// second worker's forward pass pauses `stepPause` seconds; `onEpochEnd` and `onStatus` are the
    /// test's (after the summary is kept); the workers give the server up after `workerTimeout`.
    private func train(epochs: Int, stepPause: TimeInterval? = nil, workerTimeout: Duration = .seconds(10),
                       statusInterval: Duration = .seconds(1),
                       onEpochEnd: @escaping @Sendable (EpochSummary) -> Void = { _ in },
                       onStatus: (@Sendable (ServerStatus) -> Void)? = nil) async throws -> Run {
        let set = SyncSetUp.dataset(count: 48)
        let initial = SyncSetUp.network()
        let summaries = Summaries(), changes = MembershipChanges(), serverLog = LogLines()
        let context = try Context()
        let server = try ParameterServer(
            context: context, bind: "tcp://127.0.0.1:*", weights: Array(initial.parameters), fingerprint: initial.fingerprint,
            configuration: SyncSetUp.configuration(.sgd, epochs: epochs), dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, joinTimeout: .seconds(20), stepTimeout: .seconds(30), heartbeatInterval: Self.interval,
                            heartbeatTimeout: Self.timeout, statusInterval: statusInterval),
            events: .init(logger: .lines(serverLog.append), onMembershipChange: changes.append, onStatus: onStatus,
                          onEpochEnd: { summaries.append($0); onEpochEnd($0) }))
        let workers = try (0..<2).map { index in
            try Worker(context: context, connect: server.endpoint, trainingSet: set,
                       settings: Worker.Settings(timeout: .seconds(20), heartbeatInterval: Self.interval,
                                                 heartbeatTimeout: workerTimeout, logger: .discarding)) { _ in
                guard index == 1, let stepPause else { return SyncSetUp.network() }
                // The same parameters (so the same fingerprint) behind a pause: a long step.
                return Model(Sequential([("fc1", Linear(12, 16) as any Layer), ("relu", ReLU()), ("fc2", Linear(16, 5)),
                                         ("pause", PauseLayer(seconds: stepPause))]), seed: 3)
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
        return Run(weights: result, summaries: summaries.all, changes: changes.all, serverLog: serverLog.lines)
    }

    /// A worker whose every step takes 1.5 heartbeat timeouts still sends heartbeats on time (it
    /// computes on its own compute thread), so it is never dropped, and the run ends bit for bit where
    /// the same run with quick steps does.
    @Test func aStepLongerThanTheHeartbeatTimeoutIsNotDeath() async throws {
        let quick = try await train(epochs: 2)
        let slow = try await train(epochs: 2, stepPause: Self.timeout.seconds * 1.5)
        #expect(slow.changes.allSatisfy { $0.kind == .joined }, "no worker dropped: \(slow.changes) \(slow.serverLog)")
        #expect(slow.summaries.map(\.samples) == [48, 48])
        #expect(slow.weights.map(\.bitPattern) == quick.weights.map(\.bitPattern), "a slow step changes nothing")
    }

    /// An epoch report (the trainer's evaluation and checkpoint) that takes 1.5 heartbeat timeouts runs
    /// off the server's socket thread: the server keeps sending heartbeats (the workers, which give it
    /// up after one timeout, go on) and drops nobody; `run()` returns only after the last report.
    @Test func aSlowEpochReportHoldsUpNoHeartbeat() async throws {
        let reported = Summaries()
        let run = try await train(epochs: 2, workerTimeout: Self.timeout) { summary in
            // Runs on the server's reporting thread (a thread of its own), never on the cooperative pool.
            Thread.sleep(forTimeInterval: Self.timeout.seconds * 1.5)
            reported.append(summary)
        }
        #expect(run.changes.allSatisfy { $0.kind == .joined }, "no worker dropped: \(run.changes) \(run.serverLog)")
        #expect(reported.all.map(\.epoch) == [1, 2], "every report is done when run() returns")
        #expect(run.summaries.map(\.samples) == [48, 48])
    }

    /// The server's own thread held for 1.5 heartbeat timeouts (as a starved machine would hold it;
    /// here by a status handler, which runs on the server's actor) while the workers' heartbeats wait
    /// in its socket: they count, so nobody is dropped. Silence is judged only up to the last time the
    /// server found nothing more to receive.
    @Test func aServerHeldUpWhileHeartbeatsWaitDropsNobody() async throws {
        let held = HeldOnce()
        // Steps of 0.3 s: the status after the first updates comes while the run is still going.
        let run = try await train(epochs: 3, stepPause: 0.3, statusInterval: .milliseconds(200)) { _ in } onStatus: { status in
            guard status.step >= 1, held.take() else { return }
            // Runs on the server's actor, whose executor is its socket thread: holding that is the point.
            Thread.sleep(forTimeInterval: Self.timeout.seconds * 1.5)
        }
        #expect(held.done, "the status handler held the server once")
        #expect(run.changes.allSatisfy { $0.kind == .joined }, "no worker dropped: \(run.changes) \(run.serverLog)")
        #expect(run.summaries.map(\.samples) == [48, 48, 48])
    }
}

/// True once, for the first caller of `take()`.
private final class HeldOnce: @unchecked Sendable {
    // Unchecked: `taken` is guarded by `lock`.
    private let lock = NSLock()
    private var taken = false

    func take() -> Bool { lock.withLock { defer { taken = true }; return !taken } }
    var done: Bool { lock.withLock { taken } }
}
