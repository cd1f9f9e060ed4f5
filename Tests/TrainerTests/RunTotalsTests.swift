import Foundation
import Testing

/// Every run's metrics end with one terminal event whose totals cover the whole run: a stop in the
/// middle of an epoch counts its seconds, and a resumed run's `done` counts the epochs before the resume.
@Suite(.serialized) struct RunTotalsTests {
    @Test func aResumedRunsDoneEventCoversTheWholeRun() async throws {
        let state = temporaryPath("totals.state"), metrics = temporaryPath("totals.jsonl")
        defer { for path in [state, metrics] { try? FileManager.default.removeItem(atPath: path) } }
        let epochs = 3000
        let first = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "1", "--dataset", "xor", "--batch-size", "4",
                                        "--epochs", "\(epochs)", "--state-file", state, "--metrics", metrics])
        let firstWorker = try await serve(first)
        let deadline = Date().addingTimeInterval(60)
        func epochCount() -> Int { ((try? metricsEvents(metrics)) ?? []).filter { $0["event"] as? String == "epoch" }.count }
        while epochCount() < 20 && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        first.send(SIGTERM)
        #expect(try await first.finish(timeout: 60).status == 0)
        _ = try await firstWorker.finish(timeout: 60)
        let second = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--resume", state, "--metrics", metrics])
        let secondWorker = try await serve(second)
        let resumed = try await second.finish(timeout: 120)
        _ = try await secondWorker.finish(timeout: 60)
        #expect(resumed.status == 0, "\(resumed.stderr)")

        let events = try metricsEvents(metrics)
        #expect(events.filter { $0["event"] as? String == "stopped" }.count == 1)
        var seconds: [Int: Double] = [:]
        for event in events where event["event"] as? String == "epoch" { seconds[event["epoch"] as! Int] = event["seconds"] as? Double }
        #expect(seconds.count == epochs)
        let done = try #require(events.last)
        #expect(done["event"] as? String == "done")
        let total = try #require(done["seconds"] as? Double), rate = try #require(done["samples_per_second"] as? Double)
        #expect(abs(total - seconds.values.reduce(0, +)) <= 1e-6 * total, "done counts \(total) s, the epochs \(seconds.values.reduce(0, +)) s")
        #expect(abs(rate * total - Double(4 * epochs)) < 1, "done's rate covers \(rate * total) samples, not \(4 * epochs)")
    }

    @Test(.enabled(if: sharedData("mnist") != nil, "needs MNIST: set TRAINER_DATA_DIR to a folder holding mnist/ (CI: ../shared/data)"))
    func aStopInTheFirstEpochCountsItsSeconds() async throws {
        let metrics = temporaryPath("first-epoch-stop.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "1", "--dataset", "mnist",
                                         "--data-dir", sharedData("mnist")!, "--epochs", "1", "--metrics", metrics,
                                         "--metrics-port", "0"])
        let address = try await server.awaitOutput(matching: #"Serving metrics on (http://127\.0\.0\.1:[0-9]+/metrics)"#, timeout: 60)
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        let worker = try RunningTrainer(["worker", "--connect", endpoint, "--data-dir", sharedData("mnist")!, "--timeout", "60"])
        _ = try await server.awaitError(matching: #"(rank 0 joined)"#, timeout: 60)
        try await Task.sleep(for: .milliseconds(300))
        // Stopped once a step is done (a loaded host may take longer than the pause for the first one).
        let url = try #require(URL(string: address))
        _ = try await PrometheusScrape.until(url, timeout: 60, running: { server.isRunning }) { ($0["trainer_updates_total"] ?? 0) > 0 }
        server.send(SIGTERM)
        let run = try await server.finish(timeout: 60)
        _ = try await worker.finish(timeout: 60)
        #expect(run.status == 0, "\(run.stderr)")
        let stopped = try #require(try metricsEvents(metrics).last)
        #expect(stopped["event"] as? String == "stopped")
        #expect((stopped["epochs"] as? Int) == 0, "the epoch ended before the signal: \(stopped)")
        #expect((stopped["seconds"] as? Double ?? 0) >= 0.2, "\(stopped)")
        // The steps of the epoch in progress count in the workers' totals.
        let workers = try #require(stopped["workers"] as? [[String: Any]], "\(stopped)")
        #expect(workers.count == 1 && (workers.first?["steps"] as? Int ?? 0) > 0, "\(stopped)")
        #expect((workers.first?["samples"] as? Int ?? 0) > 0, "\(stopped)")
    }

    /// One worker for `server`, once it listens.
    private func serve(_ server: RunningTrainer) async throws -> RunningTrainer {
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        return try RunningTrainer(["worker", "--connect", endpoint, "--threads", "1", "--timeout", "60"])
    }
}
