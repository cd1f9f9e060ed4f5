import Foundation
import Testing

/// `trainer local`: a parameter server and workers in one process over real ZeroMQ sockets.
@Suite(.serialized) struct LocalCommandTests {
    @Test(.enabled(if: TrainingData.chosen != nil, TrainingData.absent),
          arguments: [("inproc", "sync"), ("tcp", "sync"), ("ipc", "sync"), ("inproc", "async")])
    func twoWorkersReachTheirBarInOneEpoch(transport: String, mode: String) async throws {
        let data = try TrainingData.announced(for: "LocalCommandTests \(transport) \(mode)")
        let metrics = temporaryPath("local-\(transport).jsonl"), checkpoint = temporaryPath("local-\(transport).safetensors")
        defer { for path in [metrics, checkpoint] { try? FileManager.default.removeItem(atPath: path) } }
        let run = try await runTrainer(["local", "--workers", "2", "--transport", transport, "--mode", mode] + data.flags + [
                                  "--epochs", "1", "--metrics", metrics, "--checkpoint", checkpoint], timeout: 300)
        #expect(run.status == 0, "\(run.stderr)")
        let events = try metricsEvents(metrics)
        #expect(events.map { $0["event"] as? String } == ["start", "membership", "membership", "epoch", "done"])
        #expect(events.filter { $0["event"] as? String == "membership" }.map { $0["world_size"] as? Int } == [1, 2])
        #expect(run.stdout.contains("Epoch 1/1: train loss "))
        let done = try #require(events.last)
        #expect(done["event"] as? String == "done")
        // Sync is deterministic; async is not: each gradient is one update stale and the push order follows the
        // scheduler (the figures behind both bars are in AccuracyBars).
        let accuracy = try #require(done["test_accuracy"] as? Double)
        let bar = mode == "sync" ? data.bars.syncTwoWorkersOneEpoch : data.bars.asyncTwoWorkersOneEpoch
        #expect(accuracy >= bar, "trainer local (\(mode)) reached \(accuracy) after 1 epoch of \(data.dataset)")
        #expect(done["world_size"] as? Int == 2)
        // Per-worker counts: every sample of the epoch, split between the two ranks.
        let workers = try #require(done["workers"] as? [[String: Any]])
        #expect(workers.map { $0["rank"] as? Int } == [0, 1])
        #expect(workers.compactMap { $0["samples"] as? Int }.reduce(0, +) == 60_000)
        #expect(workers.allSatisfy { $0["steps"] as? Int == 469 })
        if mode == "async" {
            // Each push is computed on weights about one update old (the other worker's).
            let staleness = workers.compactMap { $0["mean_staleness"] as? Double }
            #expect(staleness.count == 2 && staleness.allSatisfy { $0 > 0.3 && $0 < 5 }, "\(staleness)")
        }
        #expect(run.stdout.contains("Accuracy of the network on the 10000 test images:"))
        #expect(run.stderr.contains("rank 1 joined (2 of 2 workers)"))
        let closing = "Accuracy of the network on the 10000 test images: \(String(format: "%.2f", 100 * accuracy))%"
        let evaluation = try await runTrainer(["eval", "--checkpoint", checkpoint, "--data-dir", data.dataDir])
        #expect(evaluation.stdout.contains(closing), "eval printed: \(evaluation.stdout)")
    }

    /// Two workers of batch 2 end where one process of batch 4 (XOR's full batch) ends: the same final loss.
    @Test func twoWorkersLearnXORLikeOneProcessWithTheirGlobalBatch() async throws {
        let local = try await runTrainer(["local", "--workers", "2", "--dataset", "xor", "--batch-size", "2", "--epochs", "300"], timeout: 120)
        #expect(local.status == 0, "\(local.stderr)")
        let single = try await runTrainer(["train", "--dataset", "xor", "--batch-size", "4", "--epochs", "300", "--threads", "1"], timeout: 120)
        #expect(single.status == 0, "\(single.stderr)")
        // Both print the final test loss (the full-batch loss after 300 Adam steps) with four digits.
        func finalLoss(_ output: String) -> Double? {
            output.components(separatedBy: "test loss ").last?.split(whereSeparator: { $0 == "," || $0 == "\n" }).first
                .flatMap { Double($0) }
        }
        let localLoss = try #require(finalLoss(local.stdout), "\(local.stdout)")
        let singleLoss = try #require(finalLoss(single.stdout), "\(single.stdout)")
        #expect(abs(localLoss - singleLoss) <= 1e-3 * singleLoss, "local \(localLoss) vs one process \(singleLoss)")
        #expect(local.stdout.contains("Accuracy of the network on the 4 test samples: 100.00%"))
    }

    @Test func invalidWorkerCountIsRefused() async throws {
        let run = try await runTrainer(["local", "--workers", "0", "--dataset", "xor"], timeout: 60)
        #expect(run.exitedNormally && run.status != 0)
        #expect(run.stderr.contains("--workers"))
    }
}
