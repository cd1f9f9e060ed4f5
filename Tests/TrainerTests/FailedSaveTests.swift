import Foundation
import Testing

/// A save that fails is never reported as a success: output folders are checked before training,
/// a failed final checkpoint exits non-zero, and failing state writes stop the run after 3 in a row.
@Suite(.serialized) struct FailedSaveTests {
    @Test func anOutputInAMissingFolderIsRefusedBeforeTraining() async throws {
        let missing = "/nonexistent-\(UUID().uuidString)/dir"
        for (command, flag) in [("train", "--checkpoint"), ("train", "--metrics"), ("train", "--plot"), ("local", "--checkpoint"),
                                ("server", "--state-file"), ("server", "--metrics")] {
            let path = missing + "/out.file"
            let extra = command == "train" ? [] : ["--workers", "1"]
            let run = try await runTrainer([command, "--dataset", "xor", flag, path] + extra, timeout: 60)
            #expect(run.exitedNormally && run.status != 0, "\(command) \(flag) \(path) was accepted")
            #expect(run.stderr.contains("\(flag) \(path): the folder \(missing) does not exist"), "\(command): \(run.stderr)")
            #expect(!run.stdout.contains("Training"), "\(command) started training: \(run.stdout)")
        }
        let folder = temporaryPath("folder-as-output")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try await runTrainer(["train", "--dataset", "xor", "--checkpoint", folder], timeout: 60)
        #expect(run.status != 0 && run.stderr.contains("--checkpoint \(folder): is a folder"), "\(run.stderr)")
    }

    @Test(.enabled(if: SmallFileSystem.isAvailable, "SKIPPED: needs root to mount a 1 MB tmpfs for the disk-full test"))
    func aFinalCheckpointOnAFullDiskFailsTheRun() async throws {
        let disk = try SmallFileSystem(size: "1m")
        disk.fillUp()
        let checkpoint = disk.path + "/model.safetensors", metrics = temporaryPath("full-disk.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let run = try await runTrainer(["local", "--workers", "2", "--dataset", "xor", "--batch-size", "2", "--epochs", "20",
                                        "--checkpoint", checkpoint, "--metrics", metrics], timeout: 120)
        #expect(run.exitedNormally && run.status != 0, "a run whose checkpoint could not be written exited 0: \(run.stdout)")
        #expect(!run.stdout.contains("Saved the weights"), "\(run.stdout)")
        #expect(run.stderr.contains("the final weights could not be saved to --checkpoint \(checkpoint)"), "\(run.stderr)")
        #expect(run.stderr.contains("No space left on device"), "\(run.stderr)")
        let last = try #require(try metricsEvents(metrics).last)
        #expect(last["event"] as? String == "failed")
        #expect((last["reason"] as? String)?.contains(checkpoint) == true)
    }

    @Test(.enabled(if: SmallFileSystem.isAvailable, "SKIPPED: needs root to mount a 1 MB tmpfs for the disk-full test"))
    func stateWritesFailingThreeTimesInARowStopTheRunAndKeepTheLastGoodState() async throws {
        let disk = try SmallFileSystem(size: "1m")
        let state = disk.path + "/server.state", metrics = temporaryPath("state-failures.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        // A first run writes a whole state while there is room.
        try await serverRun(["--epochs", "1", "--state-file", state])
        let good = try Data(contentsOf: URL(fileURLWithPath: state))
        disk.fillUp()
        let run = try await serverRun(["--epochs", "100000", "--state-file", state, "--checkpoint-every", "1", "--metrics", metrics],
                                      expectSuccess: false)
        #expect(run.exitedNormally && run.status != 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stderr.contains("3 state writes to \(state) failed in a row"), "\(run.stderr)")
        #expect(run.stderr.components(separatedBy: "could not save the state").count - 1 >= 3, "\(run.stderr)")
        let events = try metricsEvents(metrics)
        let failures = events.filter { $0["event"] as? String == "state_write_failed" }
        // 1, 2, 3, then the stop's own attempt (4).
        #expect(failures.prefix(3).map { $0["in_row"] as? Int } == [1, 2, 3], "\(failures)")
        #expect(events.last?["event"] as? String == "failed")
        #expect((events.last?["reason"] as? String)?.contains("failed in a row") == true)
        // The state of the first run is still there, whole.
        #expect(try Data(contentsOf: URL(fileURLWithPath: state)) == good)
        let check = try await runTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--resume", state], timeout: 60)
        #expect(check.status == 0 && check.stdout.contains("is complete"), "\(check.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: disk.path).filter { $0.contains(".tmp-") }.isEmpty)
    }

    @Test func temporaryFilesLeftByAKilledServerAreRemovedAtStart() async throws {
        let folder = temporaryPath("leftovers")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let state = folder + "/server.state", checkpoint = folder + "/model.safetensors"
        let leftovers = [folder + "/.server.state.tmp-4242-17", folder + "/.model.safetensors.tmp-4243-9"]
        let unrelated = folder + "/.notes.tmp-1-2"
        for path in leftovers + [unrelated] { try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path)) }
        let run = try await runTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "1", "--dataset", "xor",
                                        "--join-timeout", "0.3", "--state-file", state, "--checkpoint", checkpoint], timeout: 60)
        for path in leftovers {
            #expect(!FileManager.default.fileExists(atPath: path), "\(path) is still there")
            #expect(run.stdout.contains("Removed \(path), a partial write left by a process that was killed"), "\(run.stdout)")
        }
        #expect(FileManager.default.fileExists(atPath: unrelated))
    }

    /// Runs `trainer server` on XOR with one worker and `arguments`, waiting for both to end.
    @discardableResult
    private func serverRun(_ arguments: [String], expectSuccess: Bool = true) async throws -> TrainerRun {
        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "1", "--dataset", "xor",
                                         "--batch-size", "4", "--join-timeout", "60"] + arguments)
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        let worker = try RunningTrainer(["worker", "--connect", endpoint, "--threads", "1", "--timeout", "60"])
        let run = try await server.finish(timeout: 120)
        _ = try await worker.finish(timeout: 60)
        if expectSuccess { #expect(run.status == 0, "\(run.stderr)") }
        return run
    }
}
