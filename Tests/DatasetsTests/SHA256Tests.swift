import Foundation
import Testing
import TestSupport
@testable import Datasets

@Suite(.blocking) struct SHA256Tests {
    /// The examples of FIPS 180-4 (NIST's "SHA256.pdf" and the long-message vectors).
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func standardVectors(message: String, digest: String) {
        #expect(SHA256.hex(of: Array(message.utf8)) == digest)
    }

    @Test func oneMillionAs() {
        var hash = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hash.update(chunk) }
        #expect(hash.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Lengths around the 55/56/64-byte padding boundaries, fed whole and in uneven pieces, agree with each other.
    @Test func piecesGiveTheSameDigestAsTheWhole() {
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000] {
            let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            var pieces = SHA256()
            var start = 0, step = 1
            while start < message.count {
                let end = min(message.count, start + step)
                pieces.update(message[start..<end])
                start = end
                step = step * 3 % 67 + 1
            }
            #expect(pieces.hexDigest() == SHA256.hex(of: message), "length \(length)")
            #expect(pieces.finalize() == pieces.finalize(), "finalize must not change the state")
        }
    }

    /// A real file, against the system's `sha256sum`.
    @Test func agreesWithSha256sumOnARealFile() throws {
        let path = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
        try #require(FileManager.default.fileExists(atPath: path), "Fashion-MNIST is absent (apt-get install dataset-fashion-mnist)")
        let tool = ChildProcess()
        tool.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        tool.arguments = [path]
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("sha256sum-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        tool.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        try tool.run()
        tool.waitUntilExit()
        let printed = try String(contentsOfFile: outputPath, encoding: .utf8)
        let expected = String(printed.prefix(64))
        #expect(expected.count == 64)
        #expect(try SHA256.hex(ofFile: path) == expected)
    }

    @Test func aMissingFileIsNamed() {
        #expect(throws: DatasetError.self) { try SHA256.hex(ofFile: "/nonexistent/file.gz") }
    }
}
