import Foundation
import Testing

/// `trainer local --mode local-sgd`: rounds of local steps end to end, against sync on the same data.
@Suite(.serialized) struct LocalSGDProcessTests {
    /// Three epochs of the MLP with 2 workers in rounds of 8 steps (the default outer optimiser) end
    /// within 0.3 points of sync's test accuracy (issue 12's bound), with every sample trained once per
    /// epoch in ⌈469 / 8⌉ = 59 rounds.
    @Test(.enabled(if: TrainingData.chosen != nil, TrainingData.absent))
    func roundsOfEightReachSyncAccuracy() async throws {
        let data = try TrainingData.announced(for: "LocalSGDProcessTests")
        let syncMetrics = temporaryPath("local-sgd-sync.jsonl"), metrics = temporaryPath("local-sgd-8.jsonl")
        defer { for path in [syncMetrics, metrics] { try? FileManager.default.removeItem(atPath: path) } }
        let training = ["local", "--workers", "2", "--epochs", "3", "--threads", "1"] + data.flags
        let sync = try await runTrainer(training + ["--metrics", syncMetrics], timeout: 300)
        #expect(sync.status == 0, "\(sync.stderr)")
        let syncAccuracy = try #require(try metricsEvents(syncMetrics).last?["test_accuracy"] as? Double)
        let local = try await runTrainer(training + ["--mode", "local-sgd", "--sync-every", "8", "--metrics", metrics], timeout: 300)
        #expect(local.status == 0, "\(local.stderr)")
        #expect(local.stdout.contains("local-sgd mode (rounds of 8 steps, outer SGD"), "\(local.stdout)")
        let events = try metricsEvents(metrics)
        let start = try #require(events.first)
        #expect(start["mode"] as? String == "local-sgd" && start["sync_every"] as? Int == 8)
        for epoch in events.filter({ $0["event"] as? String == "epoch" }) {
            let workers = try #require(epoch["workers"] as? [[String: Any]])
            #expect(workers.compactMap { $0["samples"] as? Int }.reduce(0, +) == 60_000)
            #expect(workers.compactMap { $0["steps"] as? Int } == [59, 59], "\(workers)")
        }
        let accuracy = try #require(events.last?["test_accuracy"] as? Double)
        print("[LocalSGDProcessTests] \(data.dataset), 3 epochs: local-sgd(H=8) \(accuracy), sync \(syncAccuracy)")
        #expect(abs(accuracy - syncAccuracy) <= 0.003, "local-sgd(H=8) \(accuracy), sync \(syncAccuracy)")
    }

    /// Round settings outside local-SGD mode, or out of range, are refused before anything starts, naming the flag.
    @Test func roundSettingsOutsideLocalSGDAreRefused() async throws {
        let sync = try await runTrainer(["local", "--mode", "sync", "--sync-every", "4", "--dataset", "xor"], timeout: 60)
        #expect(sync.exitedNormally && sync.status != 0)
        #expect(sync.stderr.contains("--sync-every, --outer-lr and --outer-momentum are for --mode local-sgd (sync mode has no rounds)"),
                "\(sync.stderr)")
        let lr = try await runTrainer(["server", "--mode", "local-sgd", "--outer-lr", "0", "--dataset", "xor"], timeout: 60)
        #expect(lr.exitedNormally && lr.status != 0)
        #expect(lr.stderr.contains("--outer-lr / --outer-momentum: lr 0.0 is not a finite number > 0"), "\(lr.stderr)")
    }

    /// Local SGD on XOR with two workers as processes of their own: the server, the banner and the workers agree.
    @Test func localSGDServerAndWorkerProcessesLearnXOR() async throws {
        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "2", "--mode", "local-sgd",
                                         "--sync-every", "2", "--dataset", "xor", "--batch-size", "2", "--epochs", "400"])
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        let workers = try (0..<2).map { _ in try RunningTrainer(["worker", "--connect", endpoint, "--threads", "1"]) }
        let run = try await server.finish(timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("local-sgd mode (rounds of 2 steps"), "\(run.stdout)")
        #expect(run.stdout.contains("Accuracy of the network on the 4 test samples: 100.00%"), "\(run.stdout)")
        for worker in workers { #expect(try await worker.finish(timeout: 60).status == 0) }
    }
}
