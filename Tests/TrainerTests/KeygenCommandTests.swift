import Foundation
import Testing
import ZeroMQ

/// `trainer keygen` as a user runs it: the built executable in a real process.
@Suite struct KeygenCommandTests {
    /// A fresh directory for key files, removed by the caller.
    private func makeDirectory() throws -> String {
        let path = temporaryPath("keygen")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    private func permissions(_ path: String) throws -> Int {
        var status = stat()
        guard lstat(path, &status) == 0 else { throw CocoaError(.fileNoSuchFile) }
        return Int(status.st_mode) & 0o777
    }

    /// The single line of a key file, which must end with a newline.
    private func keyLine(_ path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasSuffix("\n"))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "\(path) is not one line")
        return String(lines[0])
    }

    @Test func writesAPublicAndASecretFileAndPrintsOnlyThePublicKey() async throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let prefix = directory + "/server"
        let run = try await runTrainer(["keygen", "--out", prefix], timeout: 60)
        #expect(run.status == 0, "\(run.stderr)")

        let publicKey = try keyLine(prefix + ".public"), secretKey = try keyLine(prefix + ".secret")
        for key in [publicKey, secretKey] {
            #expect(key.count == 40)
            #expect(CurveKeyPair.isValidKey(key))
        }
        #expect(try permissions(prefix + ".secret") == 0o600)
        #expect(try permissions(prefix + ".public") == 0o644)
        #expect(try CurveKeyPair.publicKey(fromSecret: secretKey) == publicKey)
        _ = try CurveKeyPair(publicKey: publicKey, secretKey: secretKey)

        let printed = run.stdout.split(separator: "\n").first { $0.hasPrefix("Public key: ") }
        #expect(printed.map { String($0.dropFirst("Public key: ".count)) } == publicKey)
        #expect(run.stdout.contains(prefix + ".public"))
        #expect(run.stdout.contains(prefix + ".secret"))
        #expect(!run.stdout.contains(secretKey) && !run.stderr.contains(secretKey), "the secret key was printed")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["server.public", "server.secret"])
    }

    @Test func aSecondRunRefusesToOverwriteUnlessForced() async throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let prefix = directory + "/worker-1"
        let first = try await runTrainer(["keygen", "--out", prefix], timeout: 60)
        #expect(first.status == 0, "\(first.stderr)")
        let publicKey = try keyLine(prefix + ".public"), secretKey = try keyLine(prefix + ".secret")

        let again = try await runTrainer(["keygen", "--out", prefix], timeout: 60)
        #expect(again.status != 0)
        #expect(again.exitedNormally)
        #expect(again.stderr.contains("\(prefix).secret already exists; pass --force"), "\(again.stderr)")
        #expect(try keyLine(prefix + ".public") == publicKey)
        #expect(try keyLine(prefix + ".secret") == secretKey)
        #expect(!again.stdout.contains(secretKey) && !again.stderr.contains(secretKey))

        // Only the public file left over also blocks a new pair.
        try FileManager.default.removeItem(atPath: prefix + ".secret")
        let halfway = try await runTrainer(["keygen", "--out", prefix], timeout: 60)
        #expect(halfway.status != 0)
        #expect(halfway.stderr.contains("\(prefix).public already exists"), "\(halfway.stderr)")
        #expect(!FileManager.default.fileExists(atPath: prefix + ".secret"))
        #expect(try keyLine(prefix + ".public") == publicKey)

        let forced = try await runTrainer(["keygen", "--out", prefix, "--force"], timeout: 60)
        #expect(forced.status == 0, "\(forced.stderr)")
        let newPublic = try keyLine(prefix + ".public"), newSecret = try keyLine(prefix + ".secret")
        #expect(newPublic != publicKey)
        #expect(try CurveKeyPair.publicKey(fromSecret: newSecret) == newPublic)
        #expect(try permissions(prefix + ".secret") == 0o600)
        #expect(try permissions(prefix + ".public") == 0o644)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["worker-1.public", "worker-1.secret"])
    }

    @Test func aMissingDirectoryIsReportedAndNothingIsWritten() async throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try await runTrainer(["keygen", "--out", directory + "/absent/server"], timeout: 60)
        #expect(run.status != 0)
        #expect(run.stderr.contains("directory \(directory)/absent does not exist"), "\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)

        let folder = try await runTrainer(["keygen", "--out", directory], timeout: 60)
        #expect(folder.status != 0)
        #expect(folder.stderr.contains("is a directory"), "\(folder.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func helpExplainsWhatTheFilesAreFor() async throws {
        let run = try await runTrainer(["keygen", "--help"], timeout: 60)
        #expect(run.status == 0)
        for text in ["--out", "--force", ".public", ".secret", "0600", "--curve-secret-key", "--authorized-keys", "--curve-server-key"] {
            #expect(run.stdout.contains(text), "help lacks \(text)")
        }
    }
}
