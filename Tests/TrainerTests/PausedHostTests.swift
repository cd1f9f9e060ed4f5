import Foundation
import Testing

/// A whole host paused (a suspended VM, a machine that stops scheduling the trainer): the server and
/// its workers stop together, for several heartbeat timeouts, and go on together.
@Suite(.serialized) struct PausedHostTests {
    /// The server and both worker processes are stopped with SIGSTOP for 3 heartbeat timeouts mid-epoch;
    /// the server is continued first and the workers 300 ms later, so its first look at the socket finds
    /// no heartbeat. It notices that its own thread was held up, leaves the pause out of every worker's silence, drops
    /// nobody, and the run ends normally with both workers in every epoch.
    @Test(.enabled(if: TrainingData.chosen != nil, TrainingData.absent))
    func aPausedHostDropsNobody() async throws {
        let data = try TrainingData.announced(for: "PausedHostTests")
        let metrics = temporaryPath("paused-host.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "2"] + data.flags + [
                                         "--epochs", "4", "--metrics", metrics,
                                         "--heartbeat-interval", "0.25", "--heartbeat-timeout", "1.5"])
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        let workers = try (0..<2).map { _ in
            try RunningTrainer(["worker", "--connect", endpoint, "--data-dir", data.dataDir, "--threads", "1", "--timeout", "120",
                                "--heartbeat-interval", "0.25"])
        }
        _ = try await server.awaitError(matching: #"(rank \d joined \(2 of 2 workers\))"#, timeout: 120)
        try await Task.sleep(for: .milliseconds(500))
        for process in workers + [server] { process.send(SIGSTOP) }
        try await Task.sleep(for: .seconds(4.5))
        server.send(SIGCONT)
        try await Task.sleep(for: .milliseconds(300))
        for worker in workers { worker.send(SIGCONT) }

        let serverRun = try await server.finish(timeout: 300)
        #expect(serverRun.exitedNormally && serverRun.status == 0, "server: \(serverRun.stderr)")
        for worker in workers {
            let run = try await worker.finish(timeout: 60)
            #expect(run.exitedNormally && run.status == 0, "worker: \(run.stderr)")
        }
        #expect(serverRun.stderr.contains("its own thread was held up for"), "the server must say it was held up: \(serverRun.stderr)")
        let events = try metricsEvents(metrics)
        let drops = events.filter { $0["event"] as? String == "membership" && $0["change"] as? String == "dropped" }
        #expect(drops.isEmpty, "nobody is dropped for a pause of the whole host: \(serverRun.stderr)")
        let epochs = events.filter { $0["event"] as? String == "epoch" }
        #expect(epochs.map { $0["world_size"] as? Int } == [2, 2, 2, 2], "\(serverRun.stderr)")
    }
}
