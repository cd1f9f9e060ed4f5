import Foundation
import Testing

/// `trainer train` and `trainer eval` as a user runs them: the built executable in a real process.
@Suite(.serialized) struct TrainCommandTests {
    @Test func perceptronCannotLearnXOR() async throws {
        let metrics = temporaryPath("xor-perceptron.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let run = try await runTrainer(["train", "--model", "perceptron", "--dataset", "xor", "--metrics", metrics])
        #expect(run.status == 0, "\(run.stderr)")
        let done = try #require(try metricsEvents(metrics).last)
        #expect(done["event"] as? String == "done")
        let accuracy = try #require(done["test_accuracy"] as? Double)
        #expect(accuracy <= 0.75, "a single linear layer separated XOR: \(accuracy)")
        #expect(run.stdout.contains("Accuracy of the network on the 4 test samples:"))
    }

    @Test func mlpLearnsXOR() async throws {
        let metrics = temporaryPath("xor-mlp.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let run = try await runTrainer(["train", "--model", "mlp", "--dataset", "xor", "--metrics", metrics])
        #expect(run.status == 0, "\(run.stderr)")
        let events = try metricsEvents(metrics)
        #expect(events.filter { $0["event"] as? String == "epoch" }.count == 2000)
        #expect(events.last?["test_accuracy"] as? Double == 1.0)
        #expect(run.stdout.contains("Accuracy of the network on the 4 test samples: 100.00%"))
    }

    @Test(.enabled(if: TrainingData.chosen != nil, TrainingData.absent))
    func mlpReachesItsBarInOneEpochAndEvalAgrees() async throws {
        let data = try TrainingData.announced(for: "TrainCommandTests")
        let metrics = temporaryPath("mnist.jsonl"), checkpoint = temporaryPath("mnist.safetensors")
        defer { for path in [metrics, checkpoint] { try? FileManager.default.removeItem(atPath: path) } }
        let run = try await runTrainer(["train", "--model", "mlp"] + data.flags + ["--epochs", "1",
                                  "--seed", "1", "--metrics", metrics, "--checkpoint", checkpoint])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("[Epoch 1, Batch 100] loss: "))
        #expect(run.stdout.contains("[Epoch 1, Batch 900] loss: "))
        let events = try metricsEvents(metrics)
        #expect(events.map { $0["event"] as? String } == ["start", "epoch", "done"])
        let epoch = events[1]
        for key in ["epoch", "train_loss", "test_loss", "test_accuracy", "samples_per_second", "seconds"] {
            #expect(epoch[key] != nil, "epoch event lacks \(key)")
        }
        let accuracy = try #require(events.last?["test_accuracy"] as? Double)
        #expect(accuracy >= data.bars.oneProcessOneEpoch, "MLP reached only \(accuracy) after 1 epoch of \(data.dataset)")
        let closing = "Accuracy of the network on the 10000 test images: \(String(format: "%.2f", 100 * accuracy))%"
        #expect(run.stdout.contains(closing))

        let evaluation = try await runTrainer(["eval", "--checkpoint", checkpoint, "--data-dir", data.dataDir])
        #expect(evaluation.status == 0, "\(evaluation.stderr)")
        #expect(evaluation.stdout.contains(closing), "eval printed: \(evaluation.stdout)")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist"),
                   "needs Fashion-MNIST: run Deploy/setup.sh (apt-get install dataset-fashion-mnist)"))
    func mlpLearnsFashionMNIST() async throws {
        let metrics = temporaryPath("fashion.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let run = try await runTrainer(["train", "--dataset", "fashion-mnist", "--data-dir", "/usr/share/datasets", "--epochs", "1",
                                  "--metrics", metrics])
        #expect(run.status == 0, "\(run.stderr)")
        // PyTorch's tutorial MLP reaches about 83% after one epoch on Fashion-MNIST.
        let accuracy = try #require(try metricsEvents(metrics).last?["test_accuracy"] as? Double)
        #expect(accuracy >= 0.80, "Fashion-MNIST accuracy \(accuracy) after 1 epoch")
    }

    @Test func helpExplainsEveryFlagAndDefault() async throws {
        let run = try await runTrainer(["train", "--help"])
        #expect(run.status == 0)
        let text = run.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for flag in ["--model", "--dataset", "--epochs", "--batch-size", "--lr", "--momentum", "--optimizer", "--seed",
                     "--data-dir", "--metrics", "--checkpoint"] {
            #expect(run.stdout.contains(flag), "--help does not mention \(flag)")
        }
        for phrase in ["default: 10", "default: 64", "default: sgd", "default: 0.01", "default: 0.9", "xor: 2000", "sine: 100",
                     "xor and sine: adam"] {
            #expect(text.contains(phrase), "--help does not state \(phrase)")
        }
    }

    @Test func invalidFlagsAreRefused() async throws {
        for arguments in [["--epochs", "0"], ["--batch-size", "-3"], ["--lr", "nan"], ["--momentum", "1.5"], ["--dataset", "imagenet"]] {
            let run = try await runTrainer(["train", "--dataset", "xor"] + arguments)
            #expect(run.exitedNormally && run.status != 0, "\(arguments) was accepted")
            #expect(run.stderr.contains("Error"), "\(arguments): \(run.stderr)")
        }
    }
}
