import Foundation
import Testing

/// The flags `trainer server`, `trainer local` and `trainer worker` share come from one option group each.
@Suite struct SharedOptionsTests {
    /// The help line of `flag` in `help`, with its wrapped continuation lines joined.
    private func helpEntry(_ flag: String, in help: String) -> String? {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(flag + " ") }) else { return nil }
        var entry = [lines[start]]
        for line in lines[(start + 1)...] {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("-") { break }
            entry.append(trimmed)
        }
        return entry.joined(separator: " ").split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    @Test func heartbeatAndCurveKeyFlagsReadTheSameInEveryCommand() async throws {
        var helps: [String: String] = [:]
        for command in ["server", "local", "worker"] {
            let run = try await runTrainer([command, "--help"], timeout: 60)
            #expect(run.status == 0, "\(run.stderr)")
            helps[command] = run.stdout
        }
        for flag in ["--heartbeat-interval", "--heartbeat-timeout"] {
            let entries = try ["server", "local", "worker"].map { try #require(helpEntry(flag, in: helps[$0]!), "\($0) --help lacks \(flag)") }
            #expect(Set(entries).count == 1, "\(flag) differs: \(entries)")
            #expect(entries[0].contains(flag == "--heartbeat-interval" ? "(default: 1.0)" : "(default: 10.0)"), "\(entries[0])")
        }
        let curve = try ["server", "worker"].map { try #require(helpEntry("--curve-secret-key", in: helps[$0]!), "\($0) --help lacks it") }
        #expect(Set(curve).count == 1, "--curve-secret-key differs: \(curve)")
        #expect(helpEntry("--curve-secret-key", in: helps["local"]!) == nil, "local has no CURVE")
    }

    /// The shared group's check runs for the worker as it does for the server.
    @Test func aHeartbeatTimeoutShorterThanTheIntervalIsRefusedByServerAndWorker() async throws {
        for arguments in [["server", "--dataset", "xor"], ["worker", "--connect", "tcp://127.0.0.1:9"]] {
            let run = try await runTrainer(arguments + ["--heartbeat-interval", "2", "--heartbeat-timeout", "1"], timeout: 60)
            #expect(run.exitedNormally && run.status != 0)
            #expect(run.stderr.contains("--heartbeat-interval must be positive and shorter than --heartbeat-timeout"), "\(run.stderr)")
        }
    }
}
