import Foundation
import Testing

/// Flags and files the user gets wrong end with a message naming the flag or file, never a trap
/// or a misleading word.
@Suite struct FlagCheckTests {
    @Test func negativeNumbersGetTheRealMessage() async throws {
        for (arguments, message) in [(["--lr", "-0.1"], "--lr must be a positive number"), (["--epochs", "-1"], "--epochs must be at least 1"),
                                     (["--seed", "-1"], "The value '-1' is invalid for '--seed")] {
            let run = try await runTrainer(["train", "--dataset", "xor"] + arguments, timeout: 60)
            #expect(run.exitedNormally && run.status != 0, "\(arguments) was accepted")
            #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
            #expect(!run.stderr.contains("Missing value"), "\(arguments): \(run.stderr)")
        }
    }

    /// Every numeric flag of the cluster commands takes a negative value as a value, and its own check answers.
    @Test func negativeClusterNumbersGetTheirOwnChecks() async throws {
        let cases: [([String], String)] = [
            (["server", "--mode", "ssp", "--staleness", "-1"], "--staleness must lie in 0"),
            (["local", "--mode", "ssp", "--staleness", "-1"], "--staleness must lie in 0"),
            (["server", "--straggler-threshold", "-1"], "--straggler-threshold must be positive"),
            (["server", "--join-timeout", "-1"], "--join-timeout and --step-timeout must be positive"),
            (["local", "--step-timeout", "-1"], "--join-timeout and --step-timeout must be positive"),
            (["server", "--max-workers", "-1"], "--max-workers must be at least --workers"),
            (["server", "--heartbeat-interval", "-1"], "--heartbeat-interval must be positive"),
            (["server", "--checkpoint-every", "-1"], "--checkpoint-every must be at least 1"),
            (["worker", "--connect", "tcp://127.0.0.1:1", "--threads", "-1"], "--threads must be at least 1"),
            (["worker", "--connect", "tcp://127.0.0.1:1", "--timeout", "-1"], "--timeout must be positive"),
            (["worker", "--connect", "tcp://127.0.0.1:1", "--reconnect-timeout", "-1"], "--reconnect-timeout must not be negative"),
            (["download", "mnist", "--timeout", "-1"], "--timeout must be positive"),
        ]
        for (arguments, message) in cases {
            let run = try await runTrainer(arguments, timeout: 60)
            #expect(run.exitedNormally && run.status != 0, "\(arguments) was accepted")
            #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
        }
    }

    @Test func aWorldSizeBeyondTheProtocolIsRefused() async throws {
        for command in ["local", "server"] {
            let run = try await runTrainer([command, "--workers", "100000000", "--dataset", "xor"], timeout: 60)
            #expect(run.exitedNormally && run.status != 0)
            #expect(run.stderr.contains("--workers must be at most 65536, the most workers the protocol admits"), "\(command): \(run.stderr)")
        }
    }

    @Test func bindPortsOutOfRangeAreRefused() async throws {
        for endpoint in ["tcp://127.0.0.1:99999", "tcp://127.0.0.1:-1", "tcp://127.0.0.1:x", "tcp://127.0.0.1"] {
            let run = try await runTrainer(["server", "--bind", endpoint, "--dataset", "xor"], timeout: 60)
            #expect(run.exitedNormally && run.status != 0, "\(endpoint) was accepted")
            #expect(run.stderr.contains("--bind \(endpoint)"), "\(endpoint): \(run.stderr)")
        }
    }

    /// `localhost` and the `lo` interface are this host: accepted, with no warning, and a join
    /// timeout ends with a `failed` metrics event naming it.
    @Test(arguments: ["localhost", "lo"])
    func loopbackNamesAreAcceptedWithoutAWarning(host: String) async throws {
        let metrics = temporaryPath("loopback.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let run = try await runTrainer(["server", "--bind", "tcp://\(host):*", "--workers", "1", "--dataset", "xor",
                                        "--join-timeout", "0.5", "--metrics", metrics], timeout: 60)
        #expect(!run.stderr.contains("No such device"), "\(run.stderr)")
        #expect(!run.stderr.contains("listening on tcp://\(host):* without CURVE"), "\(run.stderr)")
        #expect(run.stdout.contains("listening on tcp://127.0.0.1:"), "\(run.stdout)")
        #expect(run.exitedNormally && run.status != 0)
        #expect(run.stderr.contains("only 0 of 1 workers joined"), "\(run.stderr)")
        let last = try #require(try metricsEvents(metrics).last)
        #expect(last["event"] as? String == "failed")
        #expect((last["reason"] as? String)?.contains("only 0 of 1 workers joined") == true, "\(last)")
    }

    @Test func aPublicKeyGivenAsTheSecretKeyIsRefused() async throws {
        let folder = temporaryPath("keys")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(try await runTrainer(["keygen", "--out", folder + "/server"]).status == 0)
        // The public file itself, and a copy of it under another name beside it.
        try FileManager.default.copyItem(atPath: folder + "/server.public", toPath: folder + "/server-key")
        for key in [folder + "/server.public", folder + "/server-key"] {
            let run = try await runTrainer(["server", "--dataset", "xor", "--curve-secret-key", key,
                                            "--authorized-keys", folder + "/server.public"], timeout: 60)
            #expect(run.exitedNormally && run.status != 0, "\(key) was taken for a secret key")
            #expect(run.stderr.contains("\(key) holds a public key"), "\(run.stderr)")
        }
    }

    @Test func aStateFileWithABadFieldIsNamed() async throws {
        let state = temporaryPath("bad-field.state")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "1", "--dataset", "xor",
                                         "--batch-size", "4", "--epochs", "1", "--state-file", state])
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        let worker = try RunningTrainer(["worker", "--connect", endpoint, "--threads", "1", "--timeout", "60"])
        #expect(try await server.finish(timeout: 120).status == 0)
        _ = try await worker.finish(timeout: 60)
        for (edit, words) in [({ (header: inout [String: Any]) in
                                   var configuration = header["configuration"] as! [String: Any]
                                   configuration["epochs"] = 5
                                   configuration["batch_size_per_worker"] = 0
                                   header["configuration"] = configuration }, "its training configuration is not valid: configuration batch_size_per_worker is 0"),
                              ({ (header: inout [String: Any]) in header["worldSize"] = 100_000_000 }, "world size 100000000 is out of range")] {
            let copy = state + ".edited"
            defer { try? FileManager.default.removeItem(atPath: copy) }
            try editStateHeader(state, to: copy, edit)
            let run = try await runTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--resume", copy], timeout: 60)
            #expect(run.exitedNormally && run.status != 0)
            #expect(run.stderr.contains(copy) && run.stderr.contains(words), "\(run.stderr)")
        }
    }

    /// Copies a server state file to `destination` with its JSON header changed by `edit`.
    private func editStateHeader(_ path: String, to destination: String, _ edit: (inout [String: Any]) -> Void) throws {
        let (tensors, saved) = try storedTensors(path)
        var metadata = saved
        var header = try #require(try JSONSerialization.jsonObject(with: Data(metadata["state"]!.utf8)) as? [String: Any])
        edit(&header)
        metadata["state"] = String(decoding: try JSONSerialization.data(withJSONObject: header), as: UTF8.self)
        try writeSafetensors(tensors, metadata: metadata, to: destination)
    }
}
