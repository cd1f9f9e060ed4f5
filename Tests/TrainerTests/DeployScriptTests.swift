import Foundation
import Testing

/// The shell scripts under Deploy/: their syntax, and what the Slurm script and start-server really start.
@Suite struct DeployScriptTests {
    /// The scripts under Deploy/: *.sh, *.sbatch, and files whose #! line names a shell.
    private static func shellScripts() -> [URL] {
        DeployFiles.files { url in
            if ["sh", "sbatch", "bash"].contains(url.pathExtension) { return true }
            guard let text = try? String(contentsOf: url, encoding: .utf8), text.hasPrefix("#!") else { return false }
            return text.prefix { $0 != "\n" }.hasSuffix("sh")
        }
    }

    @Test func everyShellScriptPassesBashN() async throws {
        let scripts = Self.shellScripts()
        let names = scripts.map(DeployFiles.relativePath)
        #expect(names.contains("Deploy/setup.sh") && names.contains("Deploy/slurm/train.sbatch") && names.contains("Deploy/start-server.sh"),
                "scripts found: \(names)")
        for script in scripts {
            let bash = try await runCommand("/bin/bash", ["-n", script.path])
            #expect(bash.status == 0, "bash -n \(DeployFiles.relativePath(script)): \(bash.stderr)")
            let firstLine = try String(contentsOf: script, encoding: .utf8).prefix { $0 != "\n" }
            if firstLine == "#!/bin/sh" {
                let sh = try await runCommand("/bin/sh", ["-n", script.path])
                #expect(sh.status == 0, "sh -n \(DeployFiles.relativePath(script)): \(sh.stderr)")
            }
        }
    }

    /// A folder of stand-ins for srun, scontrol and trainer: srun runs its command --ntasks times, scontrol
    /// names two nodes, and trainer writes its arguments to a file of its own in `calls`.
    private static func fakeSlurm(in folder: String, calls: String) throws {
        let scripts = [
            "srun": """
                #!/bin/bash
                tasks=1
                while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do
                    case "$1" in --ntasks=*) tasks=${1#--ntasks=} ;; esac
                    shift
                done
                for _ in $(seq "$tasks"); do "$@" & done
                wait
                """,
            "scontrol": """
                #!/bin/sh
                [ "$1 $2 $3" = "show hostnames node[1-2]" ] || { echo "scontrol: unexpected $*" >&2; exit 2; }
                printf 'node1\\nnode2\\n'
                """,
            "trainer": """
                #!/bin/sh
                printf '%s\\0' "$@" > "$(mktemp "\(calls)/call.XXXXXX")"
                """,
        ]
        for (name, text) in scripts {
            let path = folder + "/" + name
            try (text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }
    }

    /// Runs Deploy/slurm/train.sbatch as Slurm would on a two-node allocation, with stand-ins for srun and trainer;
    /// returns the argument lists trainer was started with.
    private func runSbatch(extraEnvironment: [String: String] = [:], runDirectory: String) async throws -> (CommandRun, [[String]]) {
        let folder = temporaryPath("slurm")
        let bin = folder + "/bin", calls = folder + "/calls"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: calls, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/datasets", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.fakeSlurm(in: bin, calls: calls)
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = bin + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        for (name, value) in ["SLURM_JOB_NODELIST": "node[1-2]", "SLURM_NNODES": "2", "SLURM_NTASKS_PER_NODE": "2",
                              "SLURM_CPUS_PER_TASK": "3", "SLURM_JOB_ID": "77", "SLURM_SUBMIT_DIR": folder,
                              "RUN_DIR": runDirectory, "DATA_DIR": folder + "/datasets"] {
            environment[name] = value
        }
        environment.merge(extraEnvironment) { $1 }
        let script = DeployFiles.folder.appendingPathComponent("slurm/train.sbatch").path
        let run = try await runCommand("/bin/bash", [script], environment: environment, timeout: 60)
        let recorded = try FileManager.default.contentsOfDirectory(atPath: calls).sorted().map { name in
            try String(contentsOfFile: calls + "/" + name, encoding: .utf8).split(separator: "\0", omittingEmptySubsequences: false)
                .dropLast().map(String.init)
        }
        return (run, recorded)
    }

    @Test func theSlurmScriptStartsOneServerOnTheFirstNodeAndAWorkerPerTask() async throws {
        let runDirectory = temporaryPath("slurm-run")
        defer { try? FileManager.default.removeItem(atPath: runDirectory) }
        for curve in [false, true] {
            let (run, calls) = try await runSbatch(extraEnvironment: curve ? ["CURVE_DIR": "/shared/keys"] : [:], runDirectory: runDirectory)
            #expect(run.status == 0, "train.sbatch exited \(run.status): \(run.stderr)")
            let servers = calls.filter { $0.first == "server" }, workers = calls.filter { $0.first == "worker" }
            #expect(servers.count == 1 && workers.count == 4, "calls: \(calls)")
            for arguments in calls { try expectTrainerCommandParses(arguments, in: "Deploy/slurm/train.sbatch") }
            let server = try #require(servers.first)
            #expect(argument(after: "--workers", in: server) == "4", "2 nodes × 2 tasks: \(server)")
            #expect(argument(after: "--state-file", in: server) == runDirectory + "/server.state")
            #expect(argument(after: "--threads", in: server) == "3")
            for worker in workers {
                #expect(argument(after: "--connect", in: worker) == "tcp://node1:5555")
                #expect(argument(after: "--threads", in: worker) == "3")
                #expect((argument(after: "--curve-secret-key", in: worker) == "/shared/keys/worker.secret") == curve)
            }
            #expect((argument(after: "--authorized-keys", in: server) == "/shared/keys/workers.keys") == curve)
        }
        // With a state file from an earlier submission the server resumes it.
        try Data("state".utf8).write(to: URL(fileURLWithPath: runDirectory + "/server.state"))
        let (run, calls) = try await runSbatch(runDirectory: runDirectory)
        #expect(run.status == 0, "\(run.stderr)")
        let server = try #require(calls.first { $0.first == "server" })
        #expect(argument(after: "--resume", in: server) == runDirectory + "/server.state" && !server.contains("--workers"), "\(server)")
        try expectTrainerCommandParses(server, in: "Deploy/slurm/train.sbatch (resuming)")
    }

    @Test func startServerResumesWhenTheStateFileHoldsSomethingAndStartsANewRunOtherwise() async throws {
        let state = temporaryPath("start-server.state")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let script = DeployFiles.folder.appendingPathComponent("start-server.sh").path
        var environment = ProcessInfo.processInfo.environment
        environment["TRAINER"] = trainerExecutable().path
        // No state file: a new run with --state-file, which `--workers 0` stops at validation.
        let fresh = try await runCommand("/bin/sh", [script, state, "--workers", "0"], environment: environment)
        #expect(fresh.status != 0 && fresh.stderr.contains("--workers must be at least 1"), "\(fresh.stdout) \(fresh.stderr)")
        // A state file: --resume, which reads it and names it in the error.
        try Data("not a state".utf8).write(to: URL(fileURLWithPath: state))
        let resumed = try await runCommand("/bin/sh", [script, state, "--workers", "2"], environment: environment)
        #expect(resumed.status != 0 && resumed.stdout.contains("resuming from \(state)") && resumed.stderr.contains(state),
                "\(resumed.stdout) \(resumed.stderr)")
    }

    /// $STALENESS reaches a new run as --staleness (which the parser then judges against the mode).
    @Test func startServerPassesStalenessToANewRun() async throws {
        let state = temporaryPath("start-server-ssp.state")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let script = DeployFiles.folder.appendingPathComponent("start-server.sh").path
        var environment = ProcessInfo.processInfo.environment
        environment["TRAINER"] = trainerExecutable().path
        environment["STALENESS"] = "5"
        let sync = try await runCommand("/bin/sh", [script, state, "--mode", "sync", "--dataset", "xor"], environment: environment)
        #expect(sync.status != 0 && sync.stderr.contains("--staleness is for --mode ssp"), "\(sync.stdout) \(sync.stderr)")
        environment["STALENESS"] = "-2"
        let ssp = try await runCommand("/bin/sh", [script, state, "--mode", "ssp", "--workers", "1"], environment: environment)
        #expect(ssp.status != 0 && ssp.stderr.contains("--staleness must lie in 0"), "\(ssp.stdout) \(ssp.stderr)")
        environment["STALENESS"] = ""
        let unset = try await runCommand("/bin/sh", [script, state, "--mode", "sync", "--workers", "0"], environment: environment)
        #expect(unset.status != 0 && unset.stderr.contains("--workers must be at least 1"), "\(unset.stdout) \(unset.stderr)")
    }

    /// $COMPRESS and $COMPRESS_WEIGHTS reach a new run as --compress and --compress-weights (which the parser judges).
    @Test func startServerPassesTheCodecsToANewRun() async throws {
        let state = temporaryPath("start-server-compress.state")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let script = DeployFiles.folder.appendingPathComponent("start-server.sh").path
        var environment = ProcessInfo.processInfo.environment
        environment["TRAINER"] = trainerExecutable().path
        environment["COMPRESS"] = "gzip"
        let push = try await runCommand("/bin/sh", [script, state, "--dataset", "xor"], environment: environment)
        #expect(push.status != 0 && push.stderr.contains("--compress: \"gzip\" is not a codec"), "\(push.stdout) \(push.stderr)")
        environment["COMPRESS"] = "bf16"
        environment["COMPRESS_WEIGHTS"] = "topk:0"
        let weights = try await runCommand("/bin/sh", [script, state, "--dataset", "xor"], environment: environment)
        #expect(weights.status != 0 && weights.stderr.contains("--compress-weights: \"topk:0\" is not a codec"), "\(weights.stdout) \(weights.stderr)")
        environment["COMPRESS_WEIGHTS"] = ""
        let valid = try await runCommand("/bin/sh", [script, state, "--workers", "0"], environment: environment)
        #expect(valid.status != 0 && valid.stderr.contains("--workers must be at least 1"), "\(valid.stdout) \(valid.stderr)")
    }

    /// $OVERLAP of 1 or true adds --overlap to a new run (which the parser judges against the codec); another value is refused.
    @Test func startServerPassesOverlapToANewRun() async throws {
        let state = temporaryPath("start-server-overlap.state")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let script = DeployFiles.folder.appendingPathComponent("start-server.sh").path
        var environment = ProcessInfo.processInfo.environment
        environment["TRAINER"] = trainerExecutable().path
        environment["OVERLAP"] = "true"
        environment["COMPRESS"] = "bf16"
        let codec = try await runCommand("/bin/sh", [script, state, "--dataset", "xor"], environment: environment)
        #expect(codec.status != 0 && codec.stderr.contains("--overlap cannot be used with the push codec bf16"), "\(codec.stdout) \(codec.stderr)")
        environment["COMPRESS"] = ""
        environment["OVERLAP"] = "yes"
        let unknown = try await runCommand("/bin/sh", [script, state, "--dataset", "xor"], environment: environment)
        #expect(unknown.status == 2 && unknown.stderr.contains("start-server: OVERLAP is 'yes'; give 1 or true"), "\(unknown.stdout) \(unknown.stderr)")
        environment["OVERLAP"] = "0"
        let off = try await runCommand("/bin/sh", [script, state, "--dataset", "xor", "--workers", "0"], environment: environment)
        #expect(off.status != 0 && off.stderr.contains("--workers must be at least 1") && !off.stderr.contains("overlap"), "\(off.stdout) \(off.stderr)")
    }

    /// $SHARDS and $SHARD reach a new run and a resumed one as --shards and --shard (which the parser judges:
    /// the number against the list, shard 2's outputs, the mode); without $SHARDS nothing is added.
    @Test func startServerPassesTheShardFlagsToNewAndResumedRuns() async throws {
        let state = temporaryPath("start-server-shards.state")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let script = DeployFiles.folder.appendingPathComponent("start-server.sh").path
        var environment = ProcessInfo.processInfo.environment
        environment["TRAINER"] = trainerExecutable().path
        environment["SHARDS"] = "tcp://ps1:5555,tcp://ps2:5555"
        environment["SHARD"] = ""
        let missing = try await runCommand("/bin/sh", [script, state, "--dataset", "xor"], environment: environment)
        #expect(missing.status != 0 && missing.stderr.contains("--shards needs --shard"), "\(missing.stdout) \(missing.stderr)")
        environment["SHARD"] = "3"
        let beyond = try await runCommand("/bin/sh", [script, state, "--dataset", "xor"], environment: environment)
        #expect(beyond.status != 0 && beyond.stderr.contains("--shard must lie in 1…2"), "\(beyond.stdout) \(beyond.stderr)")
        environment["SHARD"] = "2"
        let outputs = try await runCommand("/bin/sh", [script, state, "--dataset", "xor", "--metrics", state + ".jsonl"], environment: environment)
        #expect(outputs.status != 0 && outputs.stderr.contains("--metrics goes to shard 1"), "\(outputs.stdout) \(outputs.stderr)")
        environment["SHARD"] = "1"
        let mode = try await runCommand("/bin/sh", [script, state, "--dataset", "xor", "--mode", "local-sgd"], environment: environment)
        #expect(mode.status != 0 && mode.stderr.contains("--shards cannot be used in local-sgd mode"), "\(mode.stdout) \(mode.stderr)")
        let valid = try await runCommand("/bin/sh", [script, state, "--dataset", "xor", "--workers", "0"], environment: environment)
        #expect(valid.status != 0 && valid.stderr.contains("--workers must be at least 1"), "\(valid.stdout) \(valid.stderr)")
        environment["SHARDS"] = ""
        let alone = try await runCommand("/bin/sh", [script, state, "--dataset", "xor"], environment: environment)
        #expect(alone.status != 0 && alone.stderr.contains("--shard needs --shards"), "\(alone.stdout) \(alone.stderr)")
        // A state file: --resume, with the shard flags too (a shard's state resumes only with its --shard).
        try Data("not a state".utf8).write(to: URL(fileURLWithPath: state))
        environment["SHARDS"] = "tcp://ps1:5555,tcp://ps2:5555"
        environment["SHARD"] = "3"
        let resumed = try await runCommand("/bin/sh", [script, state], environment: environment)
        #expect(resumed.status != 0 && resumed.stdout.contains("resuming from \(state)") && resumed.stderr.contains("--shard must lie in 1…2"),
                "\(resumed.stdout) \(resumed.stderr)")
        environment["SHARDS"] = ""
        environment["SHARD"] = ""
        let plain = try await startServerArguments([state, "--workers", "2"], environment: ["SHARDS": "", "SHARD": ""])
        #expect(plain == ["server", "--resume", state, "--workers", "2"], "\(plain)")
    }

    /// SHARDS=2 starts two server steps on the first node, ports PORT and PORT+1, each with the list and its --shard
    /// and its own state file; only shard 1 writes the metrics and checkpoint, and the workers connect to it. A
    /// resubmission resumes each shard from its own state (and refuses when one is missing); SHARDS must be a number.
    @Test func theSlurmScriptStartsServerShardsWithSHARDS() async throws {
        let runDirectory = temporaryPath("slurm-shards-run")
        defer { try? FileManager.default.removeItem(atPath: runDirectory) }
        let shards = "tcp://node1:5555,tcp://node1:5556"
        let (run, calls) = try await runSbatch(extraEnvironment: ["SHARDS": "2", "METRICS_PORT": "9090"], runDirectory: runDirectory)
        #expect(run.status == 0, "train.sbatch exited \(run.status): \(run.stderr)")
        let servers = calls.filter { $0.first == "server" }.sorted { (argument(after: "--shard", in: $0) ?? "") < (argument(after: "--shard", in: $1) ?? "") }
        let workers = calls.filter { $0.first == "worker" }
        #expect(servers.count == 2 && workers.count == 4, "calls: \(calls)")
        for arguments in calls { try expectTrainerCommandParses(arguments, in: "Deploy/slurm/train.sbatch with SHARDS=2") }
        for (index, server) in servers.enumerated() {
            #expect(argument(after: "--shards", in: server) == shards && argument(after: "--shard", in: server) == String(index + 1), "\(server)")
            #expect(argument(after: "--bind", in: server) == "tcp://*:\(5555 + index)")
            #expect(argument(after: "--workers", in: server) == "4")
            #expect(server.contains("--metrics") == (index == 0) && server.contains("--checkpoint") == (index == 0)
                    && server.contains("--metrics-port") == (index == 0), "only shard 1 writes outputs: \(server)")
        }
        #expect(servers.map { argument(after: "--state-file", in: $0) } == [runDirectory + "/server.state", runDirectory + "/server-shard-2.state"])
        for worker in workers { #expect(argument(after: "--connect", in: worker) == "tcp://node1:5555") }

        // Resubmitted with only shard 1's state: refused, naming the missing file; with both, each shard resumes its own.
        try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        try Data("state".utf8).write(to: URL(fileURLWithPath: runDirectory + "/server.state"))
        let (partial, partialCalls) = try await runSbatch(extraEnvironment: ["SHARDS": "2"], runDirectory: runDirectory)
        #expect(partial.status == 1 && partial.stderr.contains("not \(runDirectory)/server-shard-2.state") && partialCalls.isEmpty, "\(partial.stderr)")
        try Data("state".utf8).write(to: URL(fileURLWithPath: runDirectory + "/server-shard-2.state"))
        let (resumed, resumedCalls) = try await runSbatch(extraEnvironment: ["SHARDS": "2"], runDirectory: runDirectory)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let resumedServers = resumedCalls.filter { $0.first == "server" }
        #expect(Set(resumedServers.map { "\(argument(after: "--shard", in: $0) ?? "?") \(argument(after: "--resume", in: $0) ?? "?")" })
                == ["1 \(runDirectory)/server.state", "2 \(runDirectory)/server-shard-2.state"], "\(resumedServers)")
        for server in resumedServers {
            #expect(!server.contains("--workers"), "\(server)")
            try expectTrainerCommandParses(server, in: "Deploy/slurm/train.sbatch with SHARDS=2 (resuming)")
        }
        let (bad, badCalls) = try await runSbatch(extraEnvironment: ["SHARDS": "tcp://a:5555,tcp://b:5555"], runDirectory: runDirectory)
        #expect(bad.status == 2 && bad.stderr.contains("SHARDS is 'tcp://a:5555,tcp://b:5555'; give the number of server shards") && badCalls.isEmpty,
                "\(bad.stderr)")
    }

    /// $SYNC_EVERY, $OUTER_LR and $OUTER_MOMENTUM reach a new run as their flags (which the parser judges against the mode).
    @Test func startServerPassesTheLocalSGDSettingsToANewRun() async throws {
        let state = temporaryPath("start-server-local-sgd.state")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let script = DeployFiles.folder.appendingPathComponent("start-server.sh").path
        var environment = ProcessInfo.processInfo.environment
        environment["TRAINER"] = trainerExecutable().path
        environment["SYNC_EVERY"] = "4"
        let sync = try await runCommand("/bin/sh", [script, state, "--mode", "sync", "--dataset", "xor"], environment: environment)
        #expect(sync.status != 0 && sync.stderr.contains("are for --mode local-sgd"), "\(sync.stdout) \(sync.stderr)")
        environment["SYNC_EVERY"] = "0"
        let zero = try await runCommand("/bin/sh", [script, state, "--mode", "local-sgd", "--dataset", "xor"], environment: environment)
        #expect(zero.status != 0 && zero.stderr.contains("--sync-every must lie in 1…"), "\(zero.stdout) \(zero.stderr)")
        environment["SYNC_EVERY"] = ""
        environment["OUTER_LR"] = "0.5"
        environment["OUTER_MOMENTUM"] = "1.5"
        let momentum = try await runCommand("/bin/sh", [script, state, "--mode", "local-sgd", "--dataset", "xor"], environment: environment)
        #expect(momentum.status != 0 && momentum.stderr.contains("momentum 1.5 is not in [0, 1)"), "\(momentum.stdout) \(momentum.stderr)")
    }
}
