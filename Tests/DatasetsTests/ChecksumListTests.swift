import Foundation
import Testing
import TestSupport
@testable import Datasets

@Suite(.blocking) struct ChecksumListTests {
    let a = String(repeating: "a", count: 64), b = String(repeating: "B", count: 64), c = String(repeating: "0123456789abcdef", count: 4)

    @Test func textAndBinaryFormsBlankLinesAndFoldersAreAccepted() throws {
        let text = "\(a)  train-images-idx3-ubyte.gz\n\n\(b) *t10k-labels-idx1-ubyte.gz\r\n   \n\(c)  mnist/train-labels-idx1-ubyte.gz\n"
        let list = try ChecksumList(parsing: text, source: "SUMS")
        #expect(list.digests == [
            "train-images-idx3-ubyte.gz": a,
            "t10k-labels-idx1-ubyte.gz": b.lowercased(),
            "train-labels-idx1-ubyte.gz": c,
        ])
        #expect(list["t10k-labels-idx1-ubyte.gz"] == b.lowercased())
        #expect(list["absent.gz"] == nil)
    }

    /// The SHA256SUMS file beside the shared data, as `sha256sum` wrote it, names with folders.
    @Test(.enabled(if: sharedDataFolder("SHA256SUMS") != nil, "TRAINER_DATA_DIR with SHA256SUMS is absent"))
    func theSharedDataSumsFileParses() throws {
        let list = try ChecksumList(contentsOf: try #require(sharedDataFolder("SHA256SUMS")))
        #expect(list["train-images-idx3-ubyte.gz"]?.count == 64)
        #expect(list["test_batch.bin.gz"]?.count == 64)
    }

    private func failure(_ text: String) -> String {
        do {
            _ = try ChecksumList(parsing: text, source: "sums.txt")
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func malformedLinesAreReportedWithTheirNumber() {
        #expect(failure("\(a)  ok.gz\nnot-a-digest  file.gz\n").hasPrefix("sums.txt:2: `not-a-digest` is not a SHA-256 digest"))
        #expect(failure("\n\n\(a.dropLast())  short.gz").hasPrefix("sums.txt:3: "))
        #expect(failure("\(a)\n").hasPrefix("sums.txt:1: no file name after the digest"))
        #expect(failure("\(a)  \n").hasPrefix("sums.txt:1: no file name"))
        #expect(failure("\(a)x  file.gz").hasPrefix("sums.txt:1: "))
        #expect(failure("\(a)  same.gz\n\(c)  same.gz").hasPrefix("sums.txt:2: a second, different digest for same.gz"))
        #expect(failure("\(a)  same.gz\n\(a) *same.gz") == "no error")
        #expect(failure("\(a)  file.gz\n# comment").contains("expected `SHA256  FILENAME`"))
    }

    @Test func anUnreadableFileIsNamed() {
        do {
            _ = try ChecksumList(contentsOf: "/nonexistent/SUMS")
            Issue.record("no error for a missing file")
        } catch let error as DatasetError {
            #expect(error.path == "/nonexistent/SUMS")
            #expect(error.reason.hasPrefix("cannot read the checksum file"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
