import Foundation
import Testing

/// A real single-node Slurm started by `Deploy/slurm/test-cluster.sh` in a folder of its own, and its client commands.
struct SlurmCluster {
    /// The folder holding its slurm.conf, state, spool, logs and the daemons' pids.
    let folder: String
    /// The environment for sbatch, squeue, scontrol and scancel: this process's, with `SLURM_CONF` set.
    let environment: [String: String]

    private static var script: String { DeployFiles.folder.appendingPathComponent("slurm/test-cluster.sh").path }

    /// Starts munged, slurmctld and slurmd (installing Debian's slurm-wlm and munge first if they are missing), or
    /// cancels the running test with the script's reason when Slurm cannot start here (not root, no packages).
    static func start(in folder: String) async throws -> SlurmCluster {
        let run = try await runCommand("/bin/bash", [script, "start", folder], timeout: 600)
        if run.status == 2 {
            try Test.cancel("\(run.stderr.trimmingCharacters(in: .whitespacesAndNewlines)); the Slurm test is skipped")
        }
        try #require(run.status == 0, "test-cluster.sh start: \(run.stdout) \(run.stderr)")
        print(run.stdout.trimmingCharacters(in: .newlines))
        var environment = ProcessInfo.processInfo.environment
        environment["SLURM_CONF"] = folder + "/slurm.conf"
        return SlurmCluster(folder: folder, environment: environment)
    }

    /// Stops the daemons `start` started, by their pids.
    func stop() async {
        _ = try? await runCommand("/bin/bash", [Self.script, "stop", folder], timeout: 60)
    }

    /// Runs a Slurm client command (`sbatch`, `scontrol`, …) against this cluster.
    func command(_ name: String, _ arguments: [String], extraEnvironment: [String: String] = [:]) async throws -> CommandRun {
        let executable = try #require(executableOnPath(name), "\(name) is not on PATH")
        return try await runCommand(executable, arguments, environment: environment.merging(extraEnvironment) { $1 }, timeout: 60)
    }

    /// Submits `script` with `sbatch` and returns the job id.
    func submit(_ script: String, options: [String], environment extra: [String: String]) async throws -> Int {
        let run = try await command("sbatch", ["--parsable"] + options + [script], extraEnvironment: extra)
        try #require(run.status == 0, "sbatch: \(run.stderr)")
        return try #require(Int(run.stdout.split(separator: ";").first?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""),
                            "sbatch printed \(run.stdout)")
    }

    /// The job's `JobState` as `scontrol show job` prints it (PENDING, RUNNING, COMPLETED, FAILED, …).
    func state(of job: Int) async throws -> String? {
        let run = try await command("scontrol", ["show", "job", String(job)])
        return run.stdout.firstMatch(of: /JobState=(\w+)/).map { String($0.1) }
    }

    /// Waits up to `timeout` seconds for the job to leave PENDING, RUNNING and COMPLETING; returns its state.
    func awaitEnd(of job: Int, timeout: TimeInterval) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let state = try await state(of: job), !["PENDING", "RUNNING", "COMPLETING", "CONFIGURING"].contains(state) {
                return state
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("job \(job) still running after \(timeout) s; cancelling it")
        _ = try await command("scancel", [String(job)])
        return try await state(of: job) ?? "unknown"
    }
}
