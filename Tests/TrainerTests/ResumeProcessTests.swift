import Foundation
import Testing

/// kill -9 of the server, `trainer server --resume`, and workers that reconnect on their own.
@Suite(.serialized) struct ResumeProcessTests {
    /// The server is killed with SIGKILL mid-run, after it has written a state; resumed from that state
    /// it finishes with the workers that waited for it, at the accuracy of an uninterrupted run.
    @Test(.enabled(if: TrainingData.chosen != nil, TrainingData.absent))
    func aKilledServerResumesAndEndsLikeAnUninterruptedRun() async throws {
        let data = try TrainingData.announced(for: "ResumeProcessTests")
        let root = data.dataDir
        let state = temporaryPath("server.state"), metrics = temporaryPath("resumed.jsonl"), reference = temporaryPath("reference.jsonl")
        defer { for path in [state, metrics, reference] { try? FileManager.default.removeItem(atPath: path) } }
        let training = data.flags + ["--epochs", "3"]

        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "2", "--state-file", state,
                                         "--checkpoint-every", "50", "--metrics", metrics] + training)
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        let workers = try (0..<2).map { _ in
            try RunningTrainer(["worker", "--connect", endpoint, "--data-dir", root, "--threads", "1", "--timeout", "120",
                                "--heartbeat-interval", "0.5", "--heartbeat-timeout", "2", "--reconnect-timeout", "60"])
        }
        // Kill it once a state from inside the first epoch exists (469 steps an epoch, one state per 50).
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: state) && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(FileManager.default.fileExists(atPath: state), "no state file within 120 s: \(server.stderr)")
        server.send(SIGKILL)
        let killed = try await server.finish(timeout: 30)
        #expect(!killed.exitedNormally, "the server must have been killed, not finished")

        let port = String(endpoint.split(separator: ":").last!)
        let resumed = try await runTrainer(["server", "--bind", "tcp://127.0.0.1:\(port)", "--resume", state, "--data-dir", root,
                                            "--metrics", metrics], timeout: 300)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("Resuming from \(state) at step "), "\(resumed.stdout)")
        for worker in workers {
            let run = try await worker.finish(timeout: 60)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stderr.contains("reconnecting for up to 60.0 s"), "\(run.stderr)")
        }

        let uninterrupted = try await runTrainer(["local", "--workers", "2", "--metrics", reference] + training, timeout: 300)
        #expect(uninterrupted.status == 0, "\(uninterrupted.stderr)")
        let resumedAccuracy = try #require(try metricsEvents(metrics).last?["test_accuracy"] as? Double)
        let referenceAccuracy = try #require(try metricsEvents(reference).last?["test_accuracy"] as? Double)
        // The issue allows 0.5 points; sync training resumed from its whole state is exact.
        #expect(abs(resumedAccuracy - referenceAccuracy) <= 0.005, "resumed \(resumedAccuracy), uninterrupted \(referenceAccuracy)")
        // The metrics file keeps the killed run's lines and adds the resumed run's: every epoch is there.
        let epochs = try metricsEvents(metrics).filter { $0["event"] as? String == "epoch" }.compactMap { $0["epoch"] as? Int }
        #expect(Set(epochs) == [1, 2, 3], "\(epochs)")
    }

    /// A worker whose server dies and never comes back gives up after its reconnect timeout, non-zero.
    @Test func aWorkerGivesUpWhenTheServerDoesNotComeBack() async throws {
        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "1", "--dataset", "xor",
                                         "--epochs", "1000000"])
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        let worker = try RunningTrainer(["worker", "--connect", endpoint, "--heartbeat-interval", "0.2", "--heartbeat-timeout", "1",
                                         "--reconnect-timeout", "2"])
        try await Task.sleep(for: .milliseconds(500))
        server.send(SIGKILL)
        _ = try await server.finish(timeout: 30)
        let started = Date()
        let run = try await worker.finish(timeout: 60)
        #expect(run.exitedNormally && run.status != 0)
        #expect(run.stderr.contains("lost the server, and it did not come back within 2.0 s"), "\(run.stderr)")
        #expect(Date().timeIntervalSince(started) < 30)
    }
}
