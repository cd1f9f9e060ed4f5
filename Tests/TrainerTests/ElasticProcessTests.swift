import Foundation
import Testing

/// Worker processes that die or arrive mid-run: a sync run goes on with the others and loses no sample.
@Suite(.serialized) struct ElasticProcessTests {
    /// One of 3 worker processes is killed with SIGKILL early in epoch 2 of 3. The server drops it after
    /// its heartbeat timeout, the other two compute the abandoned step again, every epoch still trains on
    /// all 60,000 samples, the run reaches its accuracy, and the server and the survivors exit 0.
    @Test(.enabled(if: TrainingData.chosen != nil, TrainingData.absent))
    func killingOneOfThreeWorkersMidEpochLosesNoSample() async throws {
        let data = try TrainingData.announced(for: "ElasticProcessTests killed worker")
        let root = data.dataDir
        let metrics = temporaryPath("killed-worker.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "3"] + data.flags + [
                                         "--epochs", "3", "--metrics", metrics,
                                         "--heartbeat-interval", "0.5", "--heartbeat-timeout", "3"])
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        let workers = try (0..<3).map { _ in
            try RunningTrainer(["worker", "--connect", endpoint, "--data-dir", root, "--threads", "1", "--timeout", "120",
                                "--heartbeat-interval", "0.5"])
        }
        _ = try await server.awaitOutput(matching: #"(Epoch 1/3)"#, timeout: 300)
        try await Task.sleep(for: .milliseconds(300))
        workers[1].send(SIGKILL)
        let killed = try await workers[1].finish(timeout: 30)
        #expect(!killed.exitedNormally, "the worker must have been killed")

        let serverRun = try await server.finish(timeout: 300)
        #expect(serverRun.exitedNormally && serverRun.status == 0, "server: \(serverRun.stderr)")
        for worker in [workers[0], workers[2]] {
            let run = try await worker.finish(timeout: 60)
            #expect(run.exitedNormally && run.status == 0, "worker: \(run.stderr)")
        }
        let events = try metricsEvents(metrics)
        let dropped = try #require(events.first { $0["event"] as? String == "membership" && $0["change"] as? String == "dropped" },
                                   "\(serverRun.stderr)")
        #expect(dropped["world_size"] as? Int == 2)
        let drops = events.filter { $0["event"] as? String == "membership" && $0["change"] as? String == "dropped" }
        #expect(drops.count == 1, "only the killed worker is dropped: \(serverRun.stderr)")
        let silent = try #require(dropped["silent_seconds"] as? Double)
        #expect(silent >= 3 && silent < 5, "the dead worker was dropped after \(silent) s of silence")
        let epochs = events.filter { $0["event"] as? String == "epoch" }
        #expect(epochs.map { $0["world_size"] as? Int } == [3, 2, 2])
        for epoch in epochs {
            let samples = (epoch["workers"] as? [[String: Any]] ?? []).compactMap { $0["samples"] as? Int }.reduce(0, +)
            #expect(samples == 60_000, "epoch \(epoch["epoch"] ?? "?") trained on \(samples) samples")
        }
        let accuracy = try #require(events.last?["test_accuracy"] as? Double)
        // It must do no worse than never losing one (the figures are in AccuracyBars).
        #expect(accuracy >= data.bars.threeThenTwoWorkersThreeEpochs, "reached \(accuracy) after 3 epochs of \(data.dataset)")
        #expect(serverRun.stderr.contains("dropped (2 workers left); the others compute step"), "\(serverRun.stderr)")
        if ProcessInfo.processInfo.environment["CLUSTER_TESTS_VERBOSE"] != nil {
            print("[ElasticProcessTests] dead worker dropped after \(silent) s of silence; final accuracy \(accuracy)")
        }
    }

    /// Two workers start; a third starts once they are training and takes part from the server's next
    /// step; the world size in the metrics follows and everyone exits 0.
    @Test(.enabled(if: TrainingData.chosen != nil, TrainingData.absent))
    func aLateWorkerProcessTakesPart() async throws {
        let data = try TrainingData.announced(for: "ElasticProcessTests late worker")
        let root = data.dataDir
        let metrics = temporaryPath("late-worker.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "2", "--max-workers", "3"]
                                         + data.flags + ["--epochs", "2", "--metrics", metrics])
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        let first = try (0..<2).map { _ in
            try RunningTrainer(["worker", "--connect", endpoint, "--data-dir", root, "--threads", "1", "--timeout", "120"])
        }
        _ = try await server.awaitError(matching: #"(rank \d joined \(2 of 2 workers\))"#, timeout: 120)
        let late = try RunningTrainer(["worker", "--connect", endpoint, "--data-dir", root, "--threads", "1", "--timeout", "120"])
        let serverRun = try await server.finish(timeout: 300)
        #expect(serverRun.exitedNormally && serverRun.status == 0, "server: \(serverRun.stderr)")
        for worker in first + [late] {
            let run = try await worker.finish(timeout: 60)
            #expect(run.exitedNormally && run.status == 0, "worker: \(run.stderr)")
        }
        let lateRun = try await late.finish(timeout: 1)
        let steps = Int(try #require(lateRun.stdout.firstMatch(of: /Worker 2: (\d+) steps/)?.1)) ?? 0
        #expect(steps > 0, "\(lateRun.stdout)")
        let events = try metricsEvents(metrics)
        let joins = events.filter { $0["event"] as? String == "membership" }
        #expect(joins.map { $0["world_size"] as? Int } == [1, 2, 3], "\(serverRun.stderr)")
        let epochs = events.filter { $0["event"] as? String == "epoch" }
        #expect(epochs.last?["world_size"] as? Int == 3)
        for epoch in epochs {
            let samples = (epoch["workers"] as? [[String: Any]] ?? []).compactMap { $0["samples"] as? Int }.reduce(0, +)
            #expect(samples == 60_000, "epoch \(epoch["epoch"] ?? "?") trained on \(samples) samples")
        }
        #expect(serverRun.stderr.contains("rank 2 joined; it takes part from the next step"), "\(serverRun.stderr)")
    }
}
