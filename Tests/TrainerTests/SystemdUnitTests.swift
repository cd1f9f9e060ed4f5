import Foundation
import Testing

/// The systemd units under Deploy/systemd/: well formed, hardened, and starting `trainer` with valid flags.
@Suite struct SystemdUnitTests {
    private static func systemdUnits() -> [URL] {
        DeployFiles.files { $0.pathExtension == "service" }
    }

    @Test func theSystemdUnitsAreWellFormedAndTheirCommandsParse() throws {
        let units = Self.systemdUnits()
        #expect(units.map(\.lastPathComponent) == ["trainer-server.service", "trainer-worker@.service"])
        let environment = try environmentFile(DeployFiles.folder.appendingPathComponent("systemd/trainer.env"))
        var parsed = 0
        for url in units {
            let name = DeployFiles.relativePath(url)
            let unit = try SystemdUnit(contentsOf: url)
            #expect(unit.value("Description", in: "Unit") != nil, "\(name): Description")
            #expect(unit.value("WantedBy", in: "Install") != nil, "\(name): [Install] WantedBy")
            for key in ["ExecStart", "User", "EnvironmentFile", "Restart", "KillSignal", "TimeoutStopSec", "NoNewPrivileges", "ProtectSystem", "PrivateTmp"] {
                #expect(unit.value(key, in: "Service") != nil, "\(name): [Service] \(key) once")
            }
            #expect(unit.value("KillSignal", in: "Service") == "SIGTERM", "\(name): the server saves its state on SIGTERM")
            #expect(unit.value("ProtectSystem", in: "Service") == "strict")
            #expect(unit.value("Restart", in: "Service") == "on-failure")
            let execStart = try #require(unit.value("ExecStart", in: "Service"))
            let words = try DeployFiles.systemdWords(execStart, environment: environment, instance: "1")
            parsed += try expectTrainerCommandParses(words, in: name)
            if url.lastPathComponent == "trainer-server.service" {
                let stateDirectory = try #require(unit.value("StateDirectory", in: "Service"))
                #expect(unit.values("ReadWritePaths", in: "Service").contains("%S/\(stateDirectory)"), "\(name): ReadWritePaths for the state")
                #expect(words.contains { $0.hasPrefix("/var/lib/\(stateDirectory)/") }, "\(name): the state goes to the state directory")
            }
        }
        #expect(parsed == 3, "the server (new and resumed) and the worker")
    }

    /// Two shards: trainer.env as shipped gives one server; with SHARDS and SHARD set, start-server, run for real
    /// with the server unit's ExecStart (shard 1) and with the drop-in trainer-server-shard.conf's (shard 2),
    /// hands trainer `--shards … --shard N` and the parser accepts both (shard 2 without --metrics or --checkpoint).
    @Test func theShardDropInStartsShardTwoAndTheUnitShardOne() async throws {
        var environment = try environmentFile(DeployFiles.folder.appendingPathComponent("systemd/trainer.env"))
        #expect(environment["SHARDS"] == "" && environment["SHARD"] == "", "one server unless SHARDS and SHARD are set")
        let shards = "tcp://ps1.example.internal:5555,tcp://ps2.example.internal:5555"
        environment["SHARDS"] = shards
        func startServer(_ file: String, shard: String) async throws -> [String] {
            let unit = try SystemdUnit(contentsOf: DeployFiles.folder.appendingPathComponent("systemd/" + file))
            // A drop-in first empties ExecStart, then sets its own: the last value is the command.
            let execStart = try #require(unit.values("ExecStart", in: "Service").last, "\(file): ExecStart")
            environment["SHARD"] = shard
            let words = try DeployFiles.systemdWords(execStart, environment: environment, instance: "1")
            let script = try #require(words.firstIndex { $0.hasSuffix("/start-server") }, "\(file): start-server in \(words)")
            let arguments = try await startServerArguments(Array(words[(script + 1)...]), environment: environment)
            try expectTrainerCommandParses(arguments, in: "\(file) as shard \(shard)")
            #expect(argument(after: "--shards", in: arguments) == shards && argument(after: "--shard", in: arguments) == shard, "\(arguments)")
            return arguments
        }
        let first = try await startServer("trainer-server.service", shard: "1")
        let second = try await startServer("trainer-server-shard.conf", shard: "2")
        #expect(first.contains("--metrics") && !second.contains("--metrics") && !second.contains("--checkpoint"))
        for flag in ["--workers", "--max-workers", "--model", "--dataset", "--epochs", "--batch-size", "--mode", "--curve-secret-key", "--authorized-keys"] {
            #expect(argument(after: flag, in: first) == argument(after: flag, in: second), "\(flag): shard 1 \(first), shard 2 \(second)")
        }
        let dropIn = try SystemdUnit(contentsOf: DeployFiles.folder.appendingPathComponent("systemd/trainer-server-shard.conf"))
        #expect(dropIn.values("ExecStart", in: "Service").first == "", "the drop-in must clear the unit's ExecStart before setting its own")
    }

    @Test(.enabled(if: executableOnPath("systemd-analyze") != nil, "systemd-analyze is not installed: `systemd-analyze verify` of Deploy/systemd/ skipped"))
    func systemdAnalyzeVerifiesTheUnits() async throws {
        let analyze = try #require(executableOnPath("systemd-analyze"))
        let folder = temporaryPath("systemd")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var paths: [String] = []
        for url in Self.systemdUnits() {
            let path = folder + "/" + url.lastPathComponent.replacingOccurrences(of: "@.", with: "@1.")
            try FileManager.default.copyItem(atPath: url.path, toPath: path)
            paths.append(path)
        }
        let run = try await runCommand(analyze, ["verify"] + paths)
        // The programs are installed on the hosts, not here: only that complaint is expected.
        let complaints = (run.stdout + run.stderr).split(separator: "\n").filter { line in
            !(line.contains("/usr/local/bin/") && line.contains("is not executable: No such file or directory"))
        }
        #expect(complaints.isEmpty, "systemd-analyze verify: \(complaints.joined(separator: "\n"))")
    }
}
