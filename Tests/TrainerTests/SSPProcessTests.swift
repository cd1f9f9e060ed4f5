import Foundation
import Testing

/// `trainer local --mode ssp`: bounded staleness end to end, against sync on the same data.
@Suite(.serialized) struct SSPProcessTests {
    /// Three epochs of the MNIST MLP with 2 workers: SSP (S = 3) ends within half a point of sync, every
    /// sample is trained once per epoch, and no gradient was computed more than 3 steps ahead.
    @Test(.enabled(if: sharedData("mnist") != nil, "needs MNIST: set TRAINER_DATA_DIR to a folder holding mnist/ (CI: ../shared/data)"))
    func sspReachesSyncAccuracyOnMNIST() async throws {
        let root = try #require(sharedData("mnist"))
        let sspMetrics = temporaryPath("ssp.jsonl"), syncMetrics = temporaryPath("ssp-sync.jsonl")
        defer { for path in [sspMetrics, syncMetrics] { try? FileManager.default.removeItem(atPath: path) } }
        let training = ["local", "--workers", "2", "--dataset", "mnist", "--data-dir", root, "--epochs", "3"]
        let ssp = try await runTrainer(training + ["--mode", "ssp", "--staleness", "3", "--metrics", sspMetrics], timeout: 300)
        #expect(ssp.status == 0, "\(ssp.stderr)")
        #expect(ssp.stdout.contains("ssp mode (staleness 3)"), "\(ssp.stdout)")
        let sync = try await runTrainer(training + ["--metrics", syncMetrics], timeout: 300)
        #expect(sync.status == 0, "\(sync.stderr)")
        let events = try metricsEvents(sspMetrics)
        let start = try #require(events.first)
        #expect(start["mode"] as? String == "ssp" && start["staleness"] as? Int == 3)
        for epoch in events.filter({ $0["event"] as? String == "epoch" }) {
            let workers = try #require(epoch["workers"] as? [[String: Any]])
            #expect(workers.compactMap { $0["samples"] as? Int }.reduce(0, +) == 60_000)
            let ahead = workers.compactMap { $0["steps_ahead"] as? [Int] }
            #expect(ahead.count == 2 && ahead.allSatisfy { $0.count <= 4 && $0.reduce(0, +) == 469 }, "\(ahead)")
        }
        let sspAccuracy = try #require(events.last?["test_accuracy"] as? Double)
        let syncAccuracy = try #require(try metricsEvents(syncMetrics).last?["test_accuracy"] as? Double)
        print("[SSPProcessTests] after 3 epochs: ssp \(sspAccuracy), sync \(syncAccuracy)")
        #expect(abs(sspAccuracy - syncAccuracy) <= 0.005, "ssp \(sspAccuracy), sync \(syncAccuracy)")
    }

    /// A bound outside SSP mode, or out of range, is refused before anything starts, naming the flag.
    @Test func aStalenessBoundOutsideSSPIsRefused() async throws {
        let sync = try await runTrainer(["local", "--mode", "sync", "--staleness", "2", "--dataset", "xor"], timeout: 60)
        #expect(sync.exitedNormally && sync.status != 0)
        #expect(sync.stderr.contains("--staleness is for --mode ssp (sync mode has no staleness bound)"), "\(sync.stderr)")
        let huge = try await runTrainer(["server", "--mode", "ssp", "--staleness", "2000000", "--dataset", "xor"], timeout: 60)
        #expect(huge.exitedNormally && huge.status != 0)
        #expect(huge.stderr.contains("--staleness must lie in 0…1000000 steps"), "\(huge.stderr)")
    }

    /// SSP on XOR with two workers as processes of their own: the server, the banner and the workers agree.
    @Test func sspServerAndWorkerProcessesLearnXOR() async throws {
        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "2", "--mode", "ssp", "--staleness", "1",
                                         "--dataset", "xor", "--batch-size", "2", "--epochs", "400"])
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        let workers = try (0..<2).map { _ in try RunningTrainer(["worker", "--connect", endpoint, "--threads", "1"]) }
        let run = try await server.finish(timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("ssp mode (staleness 1)"))
        #expect(run.stdout.contains("Accuracy of the network on the 4 test samples: 100.00%"), "\(run.stdout)")
        for worker in workers { #expect(try await worker.finish(timeout: 60).status == 0) }
    }
}
