import Foundation
import Testing

/// `trainer server` and two `trainer worker` processes on three separate hosts: network namespaces joined by
/// veth pairs to a bridge, over plain links and over links shaped to 1 Gbit/s.
@Suite(.serialized) struct NetworkNamespaceTests {
    /// The float parameters of the MNIST MLP (784-128-64-10): every update sends each worker these weights.
    private static let mlpParameters = 109_386

    /// The three hosts reach each other over tcp; the server on host 0 and a worker on each of hosts 1 and 2
    /// train the MLP for one epoch to the expected accuracy and all exit 0: first over plain links without
    /// CURVE (the server warns), then with CURVE over links shaped by tbf to 1 Gbit/s both ways, which the
    /// server's traffic must have crossed and whose rate must have bounded the epoch's time.
    @Test(.enabled("needs root and a working `ip netns add` (CI runs as root; a failure of `ip` is printed above)") {
              await NetworkNamespaces.canCreate()
          },
          .enabled(if: TrainingData.chosen != nil, TrainingData.absent))
    func serverAndTwoWorkersOnSeparateHostsTrainOverPlainAndShapedLinks() async throws {
        let data = try TrainingData.announced(for: "NetworkNamespaceTests")
        let folder = temporaryPath("netns")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in ["server", "worker1", "worker2"] {
            let run = try await runTrainer(["keygen", "--out", "\(folder)/\(name)"], timeout: 60)
            try #require(run.status == 0, "trainer keygen: \(run.stderr)")
        }
        let workerKeys = try ["worker1", "worker2"].map {
            try String(contentsOfFile: "\(folder)/\($0).public", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try Data((workerKeys.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: "\(folder)/workers.keys"))

        try await NetworkNamespaces.with(hosts: 3) { network in
            for (from, to) in [(1, 0), (2, 0), (0, 1), (0, 2), (1, 2)] {
                let probe = try await network.tcpProbe(from: from, to: to)
                try #require(probe.reached, "host \(from) does not reach \(network.addresses[to]) over tcp: \(probe.output)")
            }

            let plain = try await train(on: network, data: data, metrics: "\(folder)/plain.jsonl", keys: nil)
            #expect(plain.server.stderr.contains("warning: listening on tcp://\(network.addresses[0]):5555 without CURVE"),
                    "\(plain.server.stderr)")
            #expect(plain.accuracy >= data.bars.syncTwoWorkersOneEpoch, "plain links: \(plain.accuracy) after 1 epoch of \(data.dataset)")

            // 1 ms of traffic per bucket: this kernel's tbf runs on high-resolution timers, and a bucket as large as
            // a step's 875 KB would let whole steps through unshaped after every pause.
            try await network.shape(rate: "1gbit", burst: "125000", latency: "50ms")
            let shaped = try await train(on: network, data: data, metrics: "\(folder)/shaped.jsonl", keys: folder)
            #expect(!shaped.server.stderr.contains("without CURVE"), "\(shaped.server.stderr)")
            for host in 1...2 {
                #expect(shaped.server.stderr.contains("ZAP: accepted CURVE client at \(network.addresses[host]) "),
                        "worker on host \(host): \(shaped.server.stderr)")
            }
            #expect(shaped.accuracy >= data.bars.syncTwoWorkersOneEpoch, "1 Gbit/s links with CURVE: \(shaped.accuracy) after 1 epoch of \(data.dataset)")

            // Every update sent both workers the weights through the server's shaped eth0.
            let frameBytes = Self.mlpParameters * 4
            let sent = try await network.sentBytes(host: 0)
            #expect(sent.qdisc.contains("tbf") && sent.bytes >= shaped.updates * 2 * frameBytes,
                    "server's eth0 sent \(sent.bytes) bytes for \(shaped.updates) updates: \(sent.qdisc)")
            // A token bucket passes at most its bucket plus the rate times any interval: the weights sent within the
            // epoch (for all but its first and last updates) bound its time from below. Unshaped, it takes a fraction.
            let linkSeconds = (Double((shaped.updates - 2) * 2 * frameBytes) - 125_000) * 8 / 1e9
            #expect(shaped.seconds >= 0.95 * linkSeconds,
                    "the epoch took \(shaped.seconds) s; 1 Gbit/s needs \(linkSeconds) s for the weights alone")
            print("NetworkNamespaceTests, \(data.dataset): plain links \(Int(plain.samplesPerSecond)) samples/s, accuracy "
                  + "\(plain.accuracy); 1 Gbit/s with CURVE \(Int(shaped.samplesPerSecond)) samples/s in \(shaped.seconds) s "
                  + "(the weights alone need \(linkSeconds) s), accuracy \(shaped.accuracy)")
        }
    }

    /// What one training run left: the processes' output and the server's last epoch.
    private struct ClusterRun {
        var server: TrainerRun
        var accuracy: Double
        var updates: Int
        var seconds: Double
        var samplesPerSecond: Double
    }

    /// Runs the server on host 0 and a worker on each of hosts 1 and 2 for one epoch, with CURVE if `keys`
    /// names the folder of the key files; requires all three to exit 0.
    private func train(on network: NetworkNamespaces, data: TrainingData,
                       metrics: String, keys: String?) async throws -> ClusterRun {
        let endpoint = "tcp://\(network.addresses[0]):5555"
        var serverArguments = ["server", "--bind", endpoint, "--workers", "2", "--dataset", data.dataset, "--data-dir", data.dataDir,
                               "--epochs", "1", "--metrics", metrics, "--join-timeout", "60"]
        if let keys { serverArguments += ["--curve-secret-key", "\(keys)/server.secret", "--authorized-keys", "\(keys)/workers.keys"] }
        let server = try RunningTrainer(serverArguments, launcher: network.launcher(host: 0))
        var processes = [server]
        do {
            _ = try await server.awaitOutput(matching: #"listening on (tcp://[0-9.]+:5555)"#, timeout: 60)
            for host in 1...2 {
                var arguments = ["worker", "--connect", endpoint, "--data-dir", data.dataDir, "--threads", "1", "--timeout", "60"]
                if let keys { arguments += ["--curve-server-key", "\(keys)/server.public", "--curve-secret-key", "\(keys)/worker\(host).secret"] }
                processes.append(try RunningTrainer(arguments, launcher: network.launcher(host: host)))
            }
            // The workers end first (the server tells them to stop), then the server; one deadline for all.
            let deadline = Date().addingTimeInterval(180)
            var runs: [TrainerRun] = []
            for process in processes.dropFirst() + [server] {
                runs.append(try await process.finish(timeout: max(1, deadline.timeIntervalSinceNow)))
            }
            for (process, run) in zip(processes.dropFirst() + [server], runs) where !(run.exitedNormally && run.status == 0) {
                throw NetworkError("trainer \(process.arguments.joined(separator: " ")) failed (status \(run.status)):\n"
                                   + Self.output(of: processes))
            }
            let epoch = try #require(try metricsEvents(metrics).last { $0["event"] as? String == "epoch" })
            return ClusterRun(server: runs[2], accuracy: try #require(epoch["test_accuracy"] as? Double),
                              updates: try #require(epoch["updates"] as? Int),
                              seconds: try #require(epoch["seconds"] as? Double),
                              samplesPerSecond: try #require(epoch["samples_per_second"] as? Double))
        } catch let error as TimeoutError {
            for process in processes { process.send(SIGKILL) }
            throw NetworkError("\(error)\n" + Self.output(of: processes))
        }
    }

    /// Every process's command line and output, for a failure message.
    private static func output(of processes: [RunningTrainer]) -> String {
        processes.map { "--- trainer \($0.arguments.joined(separator: " "))\nstdout:\n\($0.stdout)\nstderr:\n\($0.stderr)" }
            .joined(separator: "\n")
    }
}
