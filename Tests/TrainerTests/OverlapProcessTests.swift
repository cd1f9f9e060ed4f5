import Foundation
import Testing

/// `trainer local --overlap`: workers push the CNN's last layers while backward computes its first ones.
@Suite struct OverlapProcessTests {
    /// One epoch of the CNN on CIFAR-10 with 2 sync workers ends where the same run with whole pushes
    /// ends, to the last digit of the test loss, and the workers did send parts.
    @Test(.enabled(if: sharedData("cifar-10-batches-bin") != nil,
                   "needs CIFAR-10: set TRAINER_DATA_DIR to a folder holding cifar-10-batches-bin/ (CI: ../shared/data)"))
    func theCNNEndsAsWithWholePushes() async throws {
        let root = try #require(sharedData("cifar-10-batches-bin"))
        func run(_ flags: [String]) async throws -> (accuracy: Double, loss: Double, stderr: String) {
            let run = try await runLocalCNN(flags, epochs: 1, root: root, name: "overlap-\(flags.count)")
            let events = run.events
            let start = try #require(events.first { $0["event"] as? String == "start" })
            #expect(start["overlap_pushes"] as? Bool == flags.contains("--overlap"), "\(start)")
            let done = try #require(events.last { $0["event"] as? String == "done" }, "\(flags): \(run.stderr)")
            return (try #require(done["test_accuracy"] as? Double), try #require(done["test_loss"] as? Double), run.stderr)
        }
        let whole = try await run([])
        let parts = try await run(["--overlap", "--verbose"])
        #expect(parts.accuracy == whole.accuracy && parts.loss == whole.loss,
                "in parts: \(parts.accuracy), \(parts.loss); whole: \(whole.accuracy), \(whole.loss)")
        // fc1 and fc2 (2,102,794 values) go ahead after fc1's backward, conv2 (18,496) after its own; conv1
        // comes with the push. 79 steps, the last with samples for one worker only: 157 steps with samples.
        let sent = parts.stderr.split(separator: "\n").filter { $0.contains("→ server: gradient-part") }
        for values in [2_102_794, 18_496] {
            #expect(sent.filter { $0.hasSuffix(" \(8 + 4 * values) bytes") }.count == 157, "parts of \(values) values: \(sent.prefix(4))")
        }
        #expect(sent.count == 2 * 157)
    }

    /// --overlap where pushes cannot go in parts is refused with the reason, naming the flag.
    @Test func overlapIsRefusedWithACodecAndInLocalSGD() async throws {
        let cases: [([String], String)] = [
            (["--compress", "bf16"], "--overlap cannot be used with the push codec bf16 (a codec writes the whole vector at once)"),
            (["--mode", "local-sgd"], "--overlap cannot be used in local-sgd mode (a worker pushes its weights' change after a round, not a gradient after backward)"),
        ]
        for command in ["local", "server"] {
            for (flags, message) in cases {
                let run = try await runTrainer([command, "--overlap", "--dataset", "xor"] + flags, timeout: 60)
                #expect(run.exitedNormally && run.status != 0, "\(command) \(flags) was accepted")
                #expect(run.stderr.contains(message), "\(command) \(flags): \(run.stderr)")
            }
        }
    }
}
