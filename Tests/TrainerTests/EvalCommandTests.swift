import Engine
import Foundation
import Testing

/// `trainer eval` of checkpoints that other programs wrote, without `--model`.
@Suite struct EvalCommandTests {
    /// The fixtures `scripts/make_pytorch_checkpoint.py` wrote with PyTorch.
    private static let fixtures = DeployFiles.root.appendingPathComponent("Tests/TrainerTests/Fixtures").path

    /// The tutorial's MLP trained one epoch by PyTorch and saved with `safetensors.torch.save_file` (no metadata) is
    /// recognised from its tensor names and shapes, and scores on Fashion-MNIST's test set what PyTorch measured.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: TrainingData.debianRoot + "/fashion-mnist"),
                   "needs Fashion-MNIST: run Deploy/setup.sh (apt-get install dataset-fashion-mnist)"))
    func aPyTorchSaveFileCheckpointEvaluatesWithoutModel() async throws {
        let checkpoint = Self.fixtures + "/pytorch_mlp_fashion.safetensors"
        #expect(try Safetensors.read(from: checkpoint).metadata.isEmpty, "the fixture must carry no metadata, as save_file writes it")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/pytorch_mlp_fashion.json")))
                                   as? [String: Any])
        let pytorchCorrect = try #require(summary["correct"] as? Int)
        let run = try await runTrainer(["eval", "--checkpoint", checkpoint, "--dataset", "fashion-mnist",
                                        "--data-dir", TrainingData.debianRoot], timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("Evaluated mlp from \(checkpoint) on fashion-mnist"), "\(run.stdout)")
        let printed = try #require(run.stdout.firstMatch(of: /Accuracy of the network on the 10000 test images: ([0-9.]+)%/)?.1,
                                   "\(run.stdout)")
        let percent = try #require(Double(printed))
        // Float sums in another order can flip an argmax that sits on a tie: allow 2 of the 10,000 images.
        #expect(abs(percent - Double(pytorchCorrect) / 100) <= 0.02 + 1e-9, "trainer eval: \(percent)%, PyTorch: \(pytorchCorrect) of 10000")
    }

    /// A file whose tensors fit none of the models gets an error that names the file, lists what it holds and
    /// what each model for the data set expects.
    @Test func anUnknownLayoutListsWhatItFound() async throws {
        let path = temporaryPath("unknown.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let weight = [Float](repeating: 0.5, count: 16 * 2), bias = [Float](repeating: 0, count: 16)
        try weight.withUnsafeBufferPointer { weight in
            try bias.withUnsafeBufferPointer { bias in
                try Safetensors.write([("encoder.weight", [16, 2], weight), ("encoder.bias", [16], bias)], to: path)
            }
        }
        let run = try await runTrainer(["eval", "--checkpoint", path, "--dataset", "xor"], timeout: 60)
        #expect(run.exitedNormally && run.status != 0)
        for part in [path, "no model recorded in the file", "it holds 2 tensor(s): encoder.weight [16, 2], encoder.bias [16]",
                     "perceptron: fc.weight [1, 2], fc.bias [1]", "mlp: fc1.weight [8, 2], fc1.bias [8]"] {
            #expect(run.stderr.contains(part), "missing \"\(part)\" in: \(run.stderr)")
        }
    }
}
