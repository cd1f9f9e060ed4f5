import Engine
import Foundation
import Testing

/// A run whose loss becomes NaN or infinite stops with a clear message and a non-zero exit, and the
/// checkpoint never holds diverged weights; `trainer eval` refuses such weights.
@Suite struct DivergenceTests {
    @Test(arguments: [["train"], ["local", "--workers", "2"]])
    func aDivergingRunStopsAndWritesNoDivergedCheckpoint(command: [String]) async throws {
        let checkpoint = temporaryPath("diverged.safetensors"), metrics = temporaryPath("diverged.jsonl")
        defer { for path in [checkpoint, metrics] { try? FileManager.default.removeItem(atPath: path) } }
        let run = try await runTrainer(command + ["--dataset", "xor", "--lr", "1e30", "--epochs", "50", "--checkpoint", checkpoint,
                                                  "--metrics", metrics], timeout: 120)
        #expect(run.exitedNormally && run.status != 0, "\(command): a diverged run exited 0: \(run.stdout)")
        #expect(run.stderr.contains("training diverged in epoch "), "\(run.stderr)")
        #expect(run.stderr.contains("try a smaller --lr"))
        #expect(!run.stdout.contains("Finished Training") && !run.stdout.contains("Saved the weights"), "\(run.stdout)")
        let events = try metricsEvents(metrics)
        #expect(events.last?["event"] as? String == "failed", "\(events.last ?? [:])")
        #expect(events.filter { ["done", "failed", "stopped"].contains($0["event"] as? String) }.count == 1)
        // Whatever checkpoint exists holds finite weights of an epoch before the divergence.
        if FileManager.default.fileExists(atPath: checkpoint) {
            let file = try Safetensors.read(from: checkpoint)
            #expect(file.tensors.values.allSatisfy { $0.values.allSatisfy(\.isFinite) })
        }
    }

    /// A loss that stays finite but explodes (Adam with lr 1000 on XOR: 0.69 in epoch 1, then
    /// thousands and more) stops the run as well, naming the first epoch's loss.
    @Test func aFiniteExplodingLossStopsTheRun() async throws {
        let metrics = temporaryPath("exploded.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let run = try await runTrainer(["train", "--dataset", "xor", "--lr", "1000", "--epochs", "30", "--threads", "1",
                                        "--metrics", metrics], timeout: 120)
        #expect(run.exitedNormally && run.status != 0, "an exploding run exited 0: \(run.stdout)")
        #expect(run.stderr.contains("is more than 10 times the first epoch's"), "\(run.stderr)")
        #expect(!run.stdout.contains("Finished Training"), "\(run.stdout)")
        let events = try metricsEvents(metrics)
        #expect(events.last?["event"] as? String == "failed", "\(events.last ?? [:])")
        let losses = events.filter { $0["event"] as? String == "epoch" }.compactMap { $0["train_loss"] as? Double }
        #expect(losses.allSatisfy { $0.isFinite }, "the loss explodes without becoming NaN: \(losses)")
    }

    @Test func evalRefusesACheckpointOfNaNs() async throws {
        let good = temporaryPath("good.safetensors"), bad = temporaryPath("nan.safetensors")
        defer { for path in [good, bad] { try? FileManager.default.removeItem(atPath: path) } }
        #expect(try await runTrainer(["train", "--dataset", "xor", "--epochs", "1", "--checkpoint", good], timeout: 60).status == 0)
        var (tensors, metadata) = try storedTensors(good)
        tensors[0].values[3] = .nan
        try writeSafetensors(tensors, metadata: metadata, to: bad)
        let run = try await runTrainer(["eval", "--checkpoint", bad], timeout: 60)
        #expect(run.exitedNormally && run.status != 0, "\(run.stdout)")
        #expect(!run.stdout.contains("Accuracy"), "\(run.stdout)")
        #expect(run.stderr.contains("\(bad): \(tensors[0].name) holds nan at index 3: the weights of a diverged run"), "\(run.stderr)")
    }
}
