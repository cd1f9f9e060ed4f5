import Foundation
import Testing

/// `trainer server` and `trainer worker` as separate processes over tcp on 127.0.0.1.
@Suite(.serialized) struct ServerWorkerProcessTests {
    /// A server and two worker processes train the MNIST MLP for one epoch to PyTorch DDP's accuracy and all
    /// exit 0; a worker whose data differs, tried first, is refused with the reason on both sides.
    @Test(.enabled(if: TrainingData.chosen != nil, TrainingData.absent))
    func serverAndTwoWorkerProcessesReachTheirBarAndRefuseAStranger() async throws {
        let data = try TrainingData.announced(for: "ServerWorkerProcessTests")
        let root = data.dataDir
        let metrics = temporaryPath("server.jsonl"), strangerData = try smallIDXFolder(data.dataset, count: 50)
        defer { for path in [metrics, strangerData] { try? FileManager.default.removeItem(atPath: path) } }

        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "2"] + data.flags + [
                                         "--epochs", "1", "--metrics", metrics, "--join-timeout", "120"])
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)

        let stranger = try await RunningTrainer(["worker", "--connect", endpoint, "--data-dir", strangerData, "--threads", "1",
                                                 "--timeout", "60"]).finish(timeout: 90)
        #expect(stranger.exitedNormally && stranger.status != 0, "a refused worker must fail: \(stranger.stdout)")
        #expect(stranger.stderr.contains("the server refused this worker: data set differs"), "\(stranger.stderr)")
        #expect(stranger.stderr.contains("60000 training") && stranger.stderr.contains("50 training"), "\(stranger.stderr)")

        let workers = try (0..<2).map { _ in
            try RunningTrainer(["worker", "--connect", endpoint, "--data-dir", root, "--threads", "1", "--timeout", "120"])
        }
        var workerRuns: [TrainerRun] = []
        for worker in workers { workerRuns.append(try await worker.finish(timeout: 300)) }
        let serverRun = try await server.finish(timeout: 120)
        for run in workerRuns {
            #expect(run.exitedNormally && run.status == 0, "worker: \(run.stderr)")
            #expect(run.stdout.contains("Done: the server said stop"), "\(run.stdout)")
        }
        #expect(serverRun.exitedNormally && serverRun.status == 0, "server: \(serverRun.stderr)")
        #expect(serverRun.stderr.contains("refused a worker: data set differs"), "\(serverRun.stderr)")
        let done = try #require(try metricsEvents(metrics).last)
        let accuracy = try #require(done["test_accuracy"] as? Double)
        #expect(accuracy >= data.bars.syncTwoWorkersOneEpoch, "server and 2 worker processes reached \(accuracy) after 1 epoch of \(data.dataset)")
        #expect(done["world_size"] as? Int == 2)
        #expect(serverRun.stdout.contains("Accuracy of the network on the 10000 test images:"))
    }

    /// A worker with nobody listening gives up after its timeout with a clear message and a non-zero exit.
    @Test func aWorkerWithoutAServerGivesUpAtItsTimeout() async throws {
        let run = try await runTrainer(["worker", "--connect", "tcp://127.0.0.1:9", "--timeout", "1"], timeout: 60)
        #expect(run.exitedNormally && run.status != 0)
        #expect(run.stderr.contains("no setup from the server within 1.0 s"), "\(run.stderr)")
    }

    /// A server that cannot bind says which address, and exits non-zero.
    @Test func aServerThatCannotBindSaysWhere() async throws {
        let run = try await runTrainer(["server", "--bind", "tcp://256.1.1.1:5555", "--dataset", "xor"], timeout: 60)
        #expect(run.exitedNormally && run.status != 0)
        #expect(run.stderr.contains("cannot listen on tcp://256.1.1.1:5555"), "\(run.stderr)")
    }

    /// An async server and two worker processes learn XOR and all exit 0.
    @Test func asyncServerAndWorkerProcessesLearnXOR() async throws {
        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "2", "--mode", "async",
                                         "--dataset", "xor", "--batch-size", "2", "--epochs", "600"])
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        let workers = try (0..<2).map { _ in try RunningTrainer(["worker", "--connect", endpoint, "--threads", "1", "--timeout", "60"]) }
        var runs: [TrainerRun] = []
        for worker in workers { runs.append(try await worker.finish(timeout: 120)) }
        runs.append(try await server.finish(timeout: 60))
        for run in runs { #expect(run.exitedNormally && run.status == 0, "\(run.stderr)") }
        #expect(runs[2].stdout.contains("async mode"))
        #expect(runs[2].stdout.contains("Accuracy of the network on the 4 test samples: 100.00%"), "\(runs[2].stdout)")
    }

    /// A data folder whose `dataset`/ holds `count` training and `count` test images of 28×28 (plain IDX files).
    private func smallIDXFolder(_ dataset: String, count: Int) throws -> String {
        let root = temporaryPath("small-\(dataset)")
        try FileManager.default.createDirectory(atPath: root + "/" + dataset, withIntermediateDirectories: true)
        func header(_ rank: UInt8, _ dimensions: [Int]) -> [UInt8] {
            var bytes: [UInt8] = [0, 0, 8, rank]
            for d in dimensions { bytes += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
            return bytes
        }
        let images = header(3, [count, 28, 28]) + (0..<(count * 784)).map { UInt8($0 % 251) }
        let labels = header(1, [count]) + (0..<count).map { UInt8($0 % 10) }
        for split in ["train", "t10k"] {
            try Data(images).write(to: URL(fileURLWithPath: "\(root)/\(dataset)/\(split)-images-idx3-ubyte"))
            try Data(labels).write(to: URL(fileURLWithPath: "\(root)/\(dataset)/\(split)-labels-idx1-ubyte"))
        }
        return root
    }
}
