import Foundation
import Testing

/// `Deploy/slurm/train.sbatch` submitted to a real Slurm (slurmctld and slurmd on this host as one node of 2 CPUs).
@Suite(.serialized) struct SlurmTests {
    /// A submission without its data folder fails and names the path in its output file; a whole run trains to the
    /// data set's bar; a run stopped with `scancel --signal=TERM` and submitted again with the same RUN_DIR resumes
    /// from its state file and ends where the whole run ended.
    @Test(.enabled(if: TrainingData.chosen != nil, TrainingData.absent))
    func trainSbatchFailsWithoutDataTrainsAndResumesAfterScancel() async throws {
        let data = try TrainingData.announced(for: "SlurmTests")
        let folder = temporaryPath("slurm")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let started = Date()
        let cluster = try await SlurmCluster.start(in: folder + "/cluster")
        do {
            try await submissions(on: cluster, data: data, folder: folder)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
        print("[SlurmTests] took \(String(format: "%.1f", Date().timeIntervalSince(started))) s with the daemons' start and stop")
    }

    private func submissions(on cluster: SlurmCluster, data: TrainingData, folder: String) async throws {
        let script = DeployFiles.folder.appendingPathComponent("slurm/train.sbatch").path
        let port = 20_000 + Int(getpid()) % 20_000
        func submit(_ name: String, dataDir: String = data.dataDir) async throws -> (job: Int, output: String) {
            let output = "\(folder)/\(name)-%j.out"
            let job = try await cluster.submit(script, options: ["--nodes=1", "--ntasks-per-node=2", "--cpus-per-task=1",
                                                                 "--output=\(output)", "--chdir=\(folder)"],
                                               environment: ["TRAINER_BIN": trainerExecutable().deletingLastPathComponent().path,
                                                             "DATA_DIR": dataDir, "RUN_DIR": "\(folder)/\(name)",
                                                             "DATASET": data.dataset, "EPOCHS": "3", "PORT": String(port)])
            return (job, output.replacingOccurrences(of: "%j", with: String(job)))
        }
        func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

        // Bad input: no data folder. The job fails, and its output file says which path is missing.
        let missing = folder + "/no-such-data"
        let bad = try await submit("bad", dataDir: missing)
        #expect(try await cluster.awaitEnd(of: bad.job, timeout: 120) == "FAILED", "\(text(bad.output))")
        #expect(text(bad.output).contains("DATA_DIR \(missing) is not a folder"), "\(text(bad.output))")

        // A whole run: a server and 2 workers in the allocation, 3 epochs.
        let whole = try await submit("whole")
        #expect(try await cluster.awaitEnd(of: whole.job, timeout: 600) == "COMPLETED", "\(text(whole.output))")
        let wholeEvents = try metricsEvents("\(folder)/whole/metrics.jsonl")
        let wholeDone = try #require(wholeEvents.last, "\(text(whole.output))")
        #expect(wholeDone["event"] as? String == "done" && wholeDone["world_size"] as? Int == 2, "\(wholeDone)")
        let accuracy = try #require(wholeDone["test_accuracy"] as? Double)
        #expect(accuracy >= data.bars.syncTwoWorkersThreeEpochs, "train.sbatch reached \(accuracy) on \(data.dataset) in 3 epochs")

        // The same run stopped with SIGTERM to its steps once both workers train, then submitted again. The
        // whole run takes some 8 s, and the test process has been seen standing still for 7-10 s in a full
        // suite: a run that ended before scancel reached it stops nothing, so it is tried again (3 at most).
        var name = "stopped", metrics = "", first = (job: 0, output: "")
        for attempt in 1...3 {
            name = "stopped-\(attempt)"
            first = try await submit(name)
            metrics = "\(folder)/\(name)/metrics.jsonl"
            let deadline = Date().addingTimeInterval(300)
            while Date() < deadline, !text(first.output).contains("rank 1 joined (2 of 2 workers)") { try await Task.sleep(for: .milliseconds(20)) }
            let cancel = try await cluster.command("scancel", ["--signal=TERM", String(first.job)])
            _ = try await cluster.awaitEnd(of: first.job, timeout: 300)
            if cancel.status == 0, try metricsEvents(metrics).contains(where: { $0["event"] as? String == "stopped" }) { break }
            print("[SlurmTests] attempt \(attempt): the run ended before scancel reached it (\(cancel.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))")
        }
        let stopped = try metricsEvents(metrics)
        #expect(stopped.contains { $0["event"] as? String == "stopped" }, "the run ended before SIGTERM reached it, 3 times: \(text(first.output))")
        #expect(FileManager.default.fileExists(atPath: "\(folder)/\(name)/server.state"), "\(text(first.output))")

        let second = try await submit(name)
        #expect(try await cluster.awaitEnd(of: second.job, timeout: 600) == "COMPLETED", "\(text(second.output))")
        #expect(text(second.output).contains("trainer.sbatch: resuming from \(folder)/\(name)/server.state"), "\(text(second.output))")
        let resumed = try metricsEvents(metrics)
        let resumedAccuracy = try #require(resumed.last?["test_accuracy"] as? Double)
        #expect(resumed.last?["event"] as? String == "done")
        // Sync training resumed from its whole state ends on the same weights as the whole run.
        #expect(abs(resumedAccuracy - accuracy) <= 0.0005, "resumed \(resumedAccuracy), whole run \(accuracy)")
        #expect(Set(resumed.compactMap { $0["event"] as? String == "epoch" ? $0["epoch"] as? Int : nil }) == [1, 2, 3])
        print("[SlurmTests] \(data.dataset): whole run \(accuracy), stopped and resumed \(resumedAccuracy)")
    }
}
