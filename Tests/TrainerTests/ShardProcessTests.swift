import Foundation
import Testing

/// `trainer server --shards … --shard N`: two shard processes and two worker processes over ipc, against
/// one server; a shard killed with SIGKILL and resumed from its state file while the rest go on; and
/// the flags' refusals. Up to five MNIST processes at once: the suite runs alone (`RunAlone`).
@Suite(.serialized, .enabled(if: RunAlone.isThisRun, RunAlone.skipped)) struct ShardProcessTests {
    /// Sync over 2 shards ends at the test accuracy of one server (bit-identical weights, so to the
    /// last digit); SSP over 2 shards loses at most the issue's 0.5 points against sync.
    @Test(.enabled(if: TrainingData.chosen != nil, TrainingData.absent))
    func twoShardsTrainLikeOneServerInSyncAndSSP() async throws {
        let data = try TrainingData.announced(for: "ShardProcessTests")
        let training = data.flags + ["--epochs", "2", "--threads", "1"]
        let reference = temporaryPath("shard-reference.jsonl")
        defer { try? FileManager.default.removeItem(atPath: reference) }
        let single = try await runTrainer(["local", "--workers", "2", "--metrics", reference, "--no-progress"] + training, timeout: 300)
        #expect(single.status == 0, "\(single.stderr)")
        let syncAccuracy = try #require(try metricsEvents(reference).last?["test_accuracy"] as? Double)

        let sync = try await ShardedRun(training: training, mode: []).run(data: data)
        #expect(sync.accuracy == syncAccuracy, "2 shards: \(sync.accuracy), one server: \(syncAccuracy)")
        #expect(sync.followerOutput.contains("Shard 2 of 2: epoch 2 done"), "\(sync.followerOutput)")

        let ssp = try await ShardedRun(training: training, mode: ["--mode", "ssp", "--staleness", "3"]).run(data: data)
        print(String(format: "[ShardProcessTests] %@: sync 2 shards %.2f%%, one server %.2f%%, ssp 2 shards %.2f%%",
                     data.dataset, 100 * sync.accuracy, 100 * syncAccuracy, 100 * ssp.accuracy))
        // SSP applies each worker's gradient on its own (twice sync's updates here), so after 2 epochs it may
        // be ahead of sync (measured: 94.67% against 94.20% on MNIST); only a loss counts against the bound.
        #expect(ssp.accuracy >= syncAccuracy - 0.005, "ssp over 2 shards \(ssp.accuracy), sync \(syncAccuracy)")
    }

    /// One shard is killed with SIGKILL once it has written a state, and `trainer server --resume STATE
    /// --shard N` brings it back while the other shard and the workers go on without a restart; the run
    /// ends within 0.5 points of an uninterrupted sync run (SSP: loses at most 0.5 points against it).
    /// Shard 2 takes the run's step from the workers; shard 1 gives the workers their places again from
    /// its state's step, and shard 2 starts over from it.
    /// In SSP mode each rank's step is taken from its worker's shard-join (shard 2 resumed) or moved to
    /// the place shard 1 gives it anew (shard 1 resumed).
    @Test(.enabled(if: TrainingData.chosen != nil, TrainingData.absent), arguments: [(1, "sync"), (0, "sync"), (1, "ssp"), (0, "ssp")])
    func aKilledShardResumesAndTheOthersGoOn(killed: Int, mode: String) async throws {
        let data = try TrainingData.announced(for: "ShardProcessTests")
        let training = data.flags + ["--epochs", "2", "--threads", "1", "--mode", mode]
        let folder = temporaryPath("shards")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let addresses = ["ipc://\(folder)/shard-1", "ipc://\(folder)/shard-2"]
        let states = ["\(folder)/shard-1.state", "\(folder)/shard-2.state"]
        let (state, metrics, reference) = (states[killed], "\(folder)/run.jsonl", "\(folder)/reference.jsonl")
        let shard = { (index: Int, extra: [String]) in
            try RunningTrainer(["server", "--bind", addresses[index], "--shards", addresses.joined(separator: ","),
                                "--shard", "\(index + 1)", "--workers", "2", "--no-progress"] + training + extra)
        }
        var servers = [try shard(0, ["--metrics", metrics, "--state-file", states[0], "--checkpoint-every", "50"]),
                       try shard(1, ["--state-file", states[1], "--checkpoint-every", "50"])]
        for server in servers { _ = try await server.awaitOutput(matching: #"(Waiting up to)"#, timeout: 60) }
        let workers = try (0..<2).map { _ in
            try RunningTrainer(["worker", "--connect", addresses[0], "--data-dir", data.dataDir, "--threads", "1", "--timeout", "120",
                                "--heartbeat-interval", "0.5", "--heartbeat-timeout", "2", "--reconnect-timeout", "60"])
        }
        // Killed once a state from inside the first epoch exists (469 steps an epoch, one state per 50).
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: state) && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(FileManager.default.fileExists(atPath: state), "no state file within 120 s: \(servers[killed].stderr)")
        servers[killed].send(SIGKILL)
        let dead = try await servers[killed].finish(timeout: 30)
        #expect(!dead.exitedNormally, "shard \(killed + 1) must have been killed, not finished")

        servers[killed] = try RunningTrainer(["server", "--bind", addresses[killed], "--resume", state, "--shard", "\(killed + 1)",
                                              "--data-dir", data.dataDir, "--threads", "1", "--no-progress"]
                                             + (killed == 0 ? ["--metrics", metrics] : []))
        var ends: [TrainerRun] = []
        for server in servers { ends.append(try await server.finish(timeout: 300)) }
        for end in ends { #expect(end.status == 0, "\(end.stderr)") }
        #expect(ends[killed].stdout.contains("Resuming from \(state) at step "), "\(ends[killed].stdout)")
        // Shard 2 goes on from shard 1's step: after its own resume, or after shard 1's.
        let moved = mode == "ssp" && killed == 0 ? "from shard 1's step" : "goes on from shard 1's step"
        #expect(ends[1].stderr.contains(moved), "\(ends[1].stderr)")
        for worker in workers {
            let run = try await worker.finish(timeout: 60)
            #expect(run.status == 0, "\(run.stderr)")
            let sign = killed == 1 ? "took this worker back" : "reconnecting for up to 60.0 s"
            #expect(run.stderr.contains(sign), "\(run.stderr)")
        }

        // Against uninterrupted sync, which is deterministic (an SSP reference alone ranged 94.50–94.81%).
        let uninterrupted = try await runTrainer(["local", "--workers", "2", "--metrics", reference, "--no-progress"] + data.flags
                                                 + ["--epochs", "2", "--threads", "1"], timeout: 300)
        #expect(uninterrupted.status == 0, "\(uninterrupted.stderr)")
        let accuracy = try #require(try metricsEvents(metrics).last?["test_accuracy"] as? Double)
        let referenceAccuracy = try #require(try metricsEvents(reference).last?["test_accuracy"] as? Double)
        print(String(format: "[ShardProcessTests] %@: shard %d killed and resumed: %.2f%%, uninterrupted sync %.2f%%", mode, killed + 1,
                     100 * accuracy, 100 * referenceAccuracy))
        // Sync within the issue's 0.5 points either way; SSP, which may end above sync (twice its updates), loses at most 0.5.
        if mode == "sync" {
            #expect(abs(accuracy - referenceAccuracy) <= 0.005, "sync: resumed \(accuracy), uninterrupted \(referenceAccuracy)")
        } else {
            #expect(accuracy >= referenceAccuracy - 0.005, "\(mode): resumed \(accuracy), uninterrupted sync \(referenceAccuracy)")
        }
        let epochs = try metricsEvents(metrics).filter { $0["event"] as? String == "epoch" }.compactMap { $0["epoch"] as? Int }
        #expect(epochs == [1, 2], "shard 1 reports every epoch once: \(epochs)")
    }

    /// Two shards with CURVE and one key pair: the listed worker trains through both (shard 2 admits
    /// its key), shard 2 reaches shard 1 with the shards' own key, and a stranger is refused.
    @Test func curveShardsAdmitTheListedWorkerAndEachOther() async throws {
        let folder = temporaryPath("curve-shards")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in ["server", "listed", "stranger"] {
            let run = try await runTrainer(["keygen", "--out", "\(folder)/\(name)"], timeout: 60)
            #expect(run.status == 0, "\(run.stderr)")
        }
        let listedKey = try String(contentsOfFile: "\(folder)/listed.public", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try Data((listedKey + "\n").utf8).write(to: URL(fileURLWithPath: "\(folder)/workers.keys"))
        let addresses = ["ipc://\(folder)/shard-1", "ipc://\(folder)/shard-2"]
        let shards = try addresses.indices.map { index in
            try RunningTrainer(["server", "--bind", addresses[index], "--shards", addresses.joined(separator: ","), "--shard", "\(index + 1)",
                                "--workers", "1", "--dataset", "xor", "--epochs", "200", "--curve-secret-key", "\(folder)/server.secret",
                                "--authorized-keys", "\(folder)/workers.keys", "--no-progress"])
        }
        for shard in shards { _ = try await shard.awaitOutput(matching: #"(Waiting up to)"#, timeout: 60) }
        let curve = { (key: String) in ["--curve-server-key", "\(folder)/server.public", "--curve-secret-key", "\(folder)/\(key).secret"] }
        let stranger = try await runTrainer(["worker", "--connect", addresses[0], "--timeout", "2"] + curve("stranger"), timeout: 60)
        #expect(stranger.exitedNormally && stranger.status != 0, "\(stranger.stderr)")
        let listed = try await runTrainer(["worker", "--connect", addresses[0], "--timeout", "60"] + curve("listed"), timeout: 120)
        #expect(listed.status == 0, "\(listed.stderr)")
        var ends: [TrainerRun] = []
        for shard in shards { ends.append(try await shard.finish(timeout: 60)) }
        for end in ends { #expect(end.status == 0, "\(end.stderr)") }
        #expect(ends[0].stdout.contains("Accuracy of the network on the 4 test samples: 100.00%"), "\(ends[0].stdout)")
        #expect(ends[0].stderr.contains("is not authorised"), "shard 1 refuses the stranger: \(ends[0].stderr)")
        #expect(ends[1].stderr.contains("ZAP: accepted CURVE client") && ends[1].stderr.contains(String(listedKey.prefix(8))),
                "shard 2 admits the listed worker: \(ends[1].stderr)")
        #expect(ends[1].stdout.contains("Shard 2 of 2: epoch 200 done"), "\(ends[1].stdout)")
    }

    /// Each flag mistake is refused before anything starts, with a message that names the flag.
    @Test func badShardFlagsAreRefusedWithTheReason() async throws {
        let base = ["server", "--bind", "tcp://127.0.0.1:0", "--dataset", "xor", "--epochs", "1"]
        let two = "tcp://127.0.0.1:7001,tcp://127.0.0.1:7002"
        let cases: [([String], String)] = [
            (["--shard", "1"], "--shard needs --shards"),
            (["--shards", "tcp://127.0.0.1:7001", "--shard", "1"], "--shards must list 2…64 addresses"),
            (["--shards", two], "--shards needs --shard"),
            (["--shards", two, "--shard", "3"], "--shard must lie in 1…2"),
            (["--shards", "tcp://*:7001,tcp://127.0.0.1:7002", "--shard", "1"], "is not an address workers can connect to"),
            (["--shards", "tcp://127.0.0.1:7001,tcp://127.0.0.1:7001", "--shard", "1"], "lists an address twice"),
            (["--shards", two, "--shard", "2", "--metrics", "m.jsonl"], "--metrics goes to shard 1"),
            (["--shards", two, "--shard", "1", "--mode", "local-sgd"], "--shards cannot be used in local-sgd mode"),
            (["--shards", two, "--shard", "1", "--overlap"], "--shards cannot be used with --overlap"),
        ]
        for (flags, message) in cases {
            let run = try await runTrainer(base + flags, timeout: 60)
            #expect(run.status != 0 && run.stderr.contains(message), "\(flags): \(run.stderr)")
        }
    }
}

/// One sharded run: 2 shard processes and 2 worker processes over ipc in a fresh folder.
private struct ShardedRun {
    var training: [String]
    var mode: [String]

    struct Outcome {
        var accuracy: Double
        var followerOutput: String
    }

    func run(data: TrainingData) async throws -> Outcome {
        let folder = temporaryPath("shards")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let addresses = ["ipc://\(folder)/shard-1", "ipc://\(folder)/shard-2"], metrics = "\(folder)/run.jsonl"
        let shards = try addresses.indices.map { index in
            try RunningTrainer(["server", "--bind", addresses[index], "--shards", addresses.joined(separator: ","),
                                "--shard", "\(index + 1)", "--workers", "2", "--no-progress"] + mode + training
                               + (index == 0 ? ["--metrics", metrics] : []))
        }
        let workers = try (0..<2).map { _ in
            try RunningTrainer(["worker", "--connect", addresses[0], "--data-dir", data.dataDir, "--threads", "1", "--timeout", "120"])
        }
        for worker in workers {
            let run = try await worker.finish(timeout: 300)
            #expect(run.status == 0, "\(mode): \(run.stderr)")
        }
        var outputs: [String] = []
        for shard in shards {
            let run = try await shard.finish(timeout: 60)
            #expect(run.status == 0, "\(mode): \(run.stderr)")
            outputs.append(run.stdout)
        }
        let accuracy = try #require(try metricsEvents(metrics).last?["test_accuracy"] as? Double, "\(mode): \(outputs[0])")
        return Outcome(accuracy: accuracy, followerOutput: outputs[1])
    }
}
