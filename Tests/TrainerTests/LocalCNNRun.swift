import Foundation
import Testing

/// A `trainer local` run of the tutorial's CNN on CIFAR-10 in `root`: 2 sync workers of one thread each,
/// seed 0, `epochs` epochs and `flags`; its metrics events and standard error. The run must exit 0.
func runLocalCNN(_ flags: [String], epochs: Int, root: String, name: String) async throws -> (events: [[String: Any]], stderr: String) {
    let metrics = temporaryPath("local-cnn-\(name.filter { $0.isLetter || $0.isNumber }).jsonl")
    defer { try? FileManager.default.removeItem(atPath: metrics) }
    let run = try await runTrainer(["local", "--workers", "2", "--threads", "1", "--model", "cnn", "--dataset", "cifar10",
                                    "--data-dir", root, "--epochs", "\(epochs)", "--seed", "0", "--metrics", metrics, "--no-progress"]
                                   + flags, timeout: 300 * TimeInterval(max(2, epochs)))
    #expect(run.status == 0, "\(name): \(run.stderr)")
    let events = try metricsEvents(metrics)
    #expect(events.filter { $0["event"] as? String == "epoch" }.count == epochs, "\(name): \(run.stderr)")
    return (events, run.stderr)
}
