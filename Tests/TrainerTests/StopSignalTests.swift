import Foundation
import Testing

/// SIGTERM or SIGINT to a training server: it tells the workers to stop, saves the weights, writes a
/// `stopped` event and exits 0; the workers exit 0 too.
@Suite(.serialized) struct StopSignalTests {
    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalStopsTheRunCleanlyAndKeepsTheWeights(signal: Int32) async throws {
        let metrics = temporaryPath("stopped.jsonl"), checkpoint = temporaryPath("stopped.safetensors")
        defer { for path in [metrics, checkpoint] { try? FileManager.default.removeItem(atPath: path) } }
        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "2", "--dataset", "xor",
                                         "--batch-size", "2", "--epochs", "1000000", "--metrics", metrics, "--checkpoint", checkpoint])
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        let workers = try (0..<2).map { _ in try RunningTrainer(["worker", "--connect", endpoint, "--threads", "1", "--timeout", "60"]) }
        // Let it train for a while (a million XOR epochs take far longer than this test waits): until the
        // metrics file holds a few epochs.
        let deadline = Date().addingTimeInterval(60)
        while (try? metricsEvents(metrics).count) ?? 0 < 5 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(try metricsEvents(metrics).count >= 5, "no epoch finished within 60 s: \(server.stderr)")
        server.send(signal)
        let serverRun = try await server.finish(timeout: 30)
        var workerRuns: [TrainerRun] = []
        for worker in workers { workerRuns.append(try await worker.finish(timeout: 30)) }

        let name = signal == SIGTERM ? "SIGTERM" : "SIGINT"
        #expect(serverRun.exitedNormally && serverRun.status == 0, "\(serverRun.stderr)")
        #expect(serverRun.stdout.contains("Stopped by \(name) after "), "\(serverRun.stdout)")
        // One line says how the run ended, one that the signal arrived.
        let output = (serverRun.stdout + serverRun.stderr).lowercased()
        #expect(output.components(separatedBy: "stopped by \(name.lowercased())").count == 2, "\(serverRun.stdout)\n\(serverRun.stderr)")
        #expect(output.components(separatedBy: "\(name.lowercased()): stopping the workers").count == 2, "\(serverRun.stderr)")
        #expect(serverRun.stdout.contains("Saved the weights to \(checkpoint)"))
        for run in workerRuns {
            #expect(run.exitedNormally && run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("Done: the server said stop"))
        }
        let stopped = try #require(try metricsEvents(metrics).last)
        #expect(stopped["event"] as? String == "stopped")
        #expect(stopped["reason"] as? String == name)
        #expect((stopped["updates"] as? Int ?? 0) > 0)
        // The saved weights load and classify.
        let evaluation = try await runTrainer(["eval", "--checkpoint", checkpoint, "--dataset", "xor"], timeout: 60)
        #expect(evaluation.status == 0, "\(evaluation.stderr)")
        #expect(evaluation.stdout.contains("Accuracy of the network on the 4 test samples:"))
    }
}
