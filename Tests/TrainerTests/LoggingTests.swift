import Foundation
import Testing

/// `--log-level` and `--log-format`: the lines of `trainer local`, `server` and `worker` through swift-log.
@Suite struct LoggingTests {
    /// The default is the lines people have always read: the message alone, no level or time in front.
    @Test func textLinesAreTheMessagesAlone() async throws {
        let run = try await runTrainer(["local", "--workers", "2", "--dataset", "xor", "--batch-size", "2", "--epochs", "3"], timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.contains("parameter server: rank 1 joined (2 of 2 workers)"), "\(run.stderr)")
        #expect(lines.allSatisfy { $0.hasPrefix("parameter server: ") || $0.hasPrefix("trainer") }, "\(run.stderr)")
    }

    /// `--log-format json` writes one JSON object per line, with time, level, label and message, and the rank
    /// or step the line is about as numbers; `--verbose` adds trace lines naming the peer.
    @Test func jsonLinesParseAndCarryLevelAndMetadata() async throws {
        let run = try await runTrainer(["local", "--workers", "2", "--dataset", "xor", "--batch-size", "2", "--epochs", "2",
                                        "--log-format", "json", "--verbose"], timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        let objects = try run.stderr.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
        }
        #expect(objects.count > 10, "\(run.stderr)")
        for object in objects {
            #expect(object["time"] is String && object["label"] is String && object["message"] is String, "\(object)")
            #expect(["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(object["level"] as? String ?? ""), "\(object)")
        }
        let joined = try #require(objects.first { ($0["message"] as? String) == "parameter server: rank 1 joined (2 of 2 workers)" })
        #expect(joined["level"] as? String == "info" && joined["rank"] as? Int == 1, "\(joined)")
        #expect(joined["label"] as? String == "trainer.parameter-server")
        let epoch = try #require(objects.first { ($0["message"] as? String)?.hasPrefix("parameter server: epoch 1 done") == true })
        #expect(epoch["epoch"] as? Int == 1, "\(epoch)")
        let traced = objects.filter { $0["level"] as? String == "trace" }
        #expect(traced.contains { ($0["message"] as? String)?.hasPrefix("parameter server: ← rank 0: push-gradient") == true && $0["peer"] as? String == "rank 0" && $0["step"] is Int },
                "\(traced.prefix(5))")
        #expect(traced.contains { $0["label"] as? String == "trainer.worker" && $0["rank"] is Int }, "worker traces carry their rank")
    }

    /// `--log-level warning` hides the info lines and keeps warnings; `error` hides the warnings too.
    @Test func aHigherLevelHidesTheLinesBelowIt() async throws {
        let quiet = try await runTrainer(["local", "--workers", "2", "--dataset", "xor", "--batch-size", "2", "--epochs", "2",
                                          "--log-level", "warning"], timeout: 120)
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(!quiet.stderr.contains("joined") && !quiet.stderr.contains("done after"), "\(quiet.stderr)")
        #expect(quiet.stdout.contains("Epoch 2/2"), "the run's own output stays: \(quiet.stdout)")

        // Listening beyond loopback without CURVE is a warning; nothing joins, so the server stops with an error.
        let warned = try await runTrainer(["server", "--dataset", "xor", "--bind", "tcp://*:0", "--join-timeout", "1",
                                           "--log-level", "warning"], timeout: 60)
        #expect(warned.status != 0)
        #expect(warned.stderr.contains("warning: listening on tcp://*:0 without CURVE"), "\(warned.stderr)")
        let silenced = try await runTrainer(["server", "--dataset", "xor", "--bind", "tcp://*:0", "--join-timeout", "1",
                                             "--log-level", "error"], timeout: 60)
        #expect(!silenced.stderr.contains("without CURVE"), "\(silenced.stderr)")
        #expect(silenced.stderr.contains("parameter server: "), "the error still shows: \(silenced.stderr)")
    }
}
