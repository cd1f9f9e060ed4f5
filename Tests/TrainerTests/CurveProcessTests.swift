import Foundation
import Testing

/// `trainer server` with CURVE and a list of worker keys, and `trainer worker` processes with and without a listed key.
@Suite(.serialized) struct CurveProcessTests {
    /// An unlisted worker cannot join: it gives up with a hint, and the server logs the refusal by a key
    /// prefix; a listed worker then trains to the end. No output of any process holds a whole key.
    @Test func onlyListedWorkersJoinAndNoKeyIsPrinted() async throws {
        let folder = temporaryPath("curve")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in ["server", "listed", "stranger"] {
            let run = try await runTrainer(["keygen", "--out", "\(folder)/\(name)"], timeout: 60)
            #expect(run.status == 0, "\(run.stderr)")
        }
        func key(_ file: String) throws -> String {
            try String(contentsOfFile: "\(folder)/\(file)", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try Data(("# the workers allowed to join\n" + (try key("listed.public")) + "\n").utf8)
            .write(to: URL(fileURLWithPath: "\(folder)/workers.keys"))

        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "1", "--dataset", "xor",
                                         "--epochs", "200", "--curve-secret-key", "\(folder)/server.secret",
                                         "--authorized-keys", "\(folder)/workers.keys"])
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+) with CURVE"#, timeout: 60)

        let stranger = try await runTrainer(["worker", "--connect", endpoint, "--curve-server-key", "\(folder)/server.public",
                                             "--curve-secret-key", "\(folder)/stranger.secret", "--timeout", "2"], timeout: 60)
        #expect(stranger.exitedNormally && stranger.status != 0)
        #expect(stranger.stderr.contains("With CURVE a refused worker hears nothing"), "\(stranger.stderr)")

        let listed = try await runTrainer(["worker", "--connect", endpoint, "--curve-server-key", "\(folder)/server.public",
                                           "--curve-secret-key", "\(folder)/listed.secret", "--timeout", "60"], timeout: 120)
        #expect(listed.status == 0, "\(listed.stderr)")
        let serverRun = try await server.finish(timeout: 60)
        #expect(serverRun.status == 0, "\(serverRun.stderr)")
        #expect(serverRun.stdout.contains("Accuracy of the network on the 4 test samples: 100.00%"), "\(serverRun.stdout)")
        let strangerKey = try key("stranger.public"), listedKey = try key("listed.public")
        #expect(serverRun.stderr.contains("ZAP: refused CURVE client at 127.0.0.1: public key \(strangerKey.prefix(8))… is not authorised"),
                "\(serverRun.stderr)")
        #expect(serverRun.stderr.contains("ZAP: accepted CURVE client at 127.0.0.1 with public key \(listedKey.prefix(8))…"))
        let everything = [stranger, listed, serverRun].map { $0.stdout + $0.stderr }.joined()
        for file in ["server.secret", "listed.secret", "stranger.secret", "server.public", "listed.public", "stranger.public"] {
            #expect(!everything.contains(try key(file)), "\(file)'s key was printed")
        }
    }

    /// Listening beyond this host without CURVE is allowed but warned about; loopback is not.
    @Test func anOpenPortWithoutCurveIsWarnedAbout() async throws {
        let open = try await runTrainer(["server", "--bind", "tcp://*:0", "--workers", "1", "--dataset", "xor", "--join-timeout", "0.2"],
                                        timeout: 60)
        #expect(open.stderr.contains("warning: listening on tcp://*:0 without CURVE"), "\(open.stderr)")
        let loopback = try await runTrainer(["server", "--bind", "tcp://127.0.0.1:0", "--workers", "1", "--dataset", "xor",
                                             "--join-timeout", "0.2"], timeout: 60)
        #expect(!loopback.stderr.contains("without CURVE"), "\(loopback.stderr)")
        let half = try await runTrainer(["server", "--curve-secret-key", "x.secret", "--dataset", "xor"], timeout: 60)
        #expect(half.status != 0 && half.stderr.contains("--curve-secret-key and --authorized-keys go together"), "\(half.stderr)")
    }
}
