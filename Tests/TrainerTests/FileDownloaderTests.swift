import Datasets
import Foundation
import Testing

/// `FileDownloader` against a real HTTP server on 127.0.0.1 serving the Fashion-MNIST files.
@Suite struct FileDownloaderTests {
    let labels = "t10k-labels-idx1-ubyte.gz", images = "t10k-images-idx3-ubyte.gz"

    private func url(_ server: HTTPTestServer, _ name: String) -> URL { URL(string: server.baseURL + name)! }

    /// Runs `body` with a server, a scratch folder and the files; skips when Fashion-MNIST is absent.
    private func withServer(_ body: (HTTPTestServer, String, [String: String]) async throws -> Void) async throws {
        guard let files = fashionFiles() else { return }
        let server = try HTTPTestServer(files: files)
        let folder = try makeTemporaryFolder("downloader")
        defer {
            server.stop()
            try? FileManager.default.removeItem(atPath: folder)
        }
        try await body(server, folder, files)
    }

    @Test func aFileArrivesWholeAndASecondCallFindsItThere() async throws {
        try await withServer { server, folder, files in
            let destination = folder + "/" + images
            let digest = try await systemSHA256(files[images]!)
            let outcome = try await FileDownloader().download(from: url(server, images), to: destination, sha256: digest.uppercased())
            let size = Int64(fileSize(files[images]!)!)
            #expect(outcome == .downloaded(bytes: size, resumedFrom: 0))
            #expect(try await systemSHA256(destination) == digest)
            #expect(fileSize(destination + ".part") == nil)

            let again = try await FileDownloader().download(from: url(server, images), to: destination, sha256: digest)
            #expect(again == .alreadyThere)
            #expect(server.requests.count == 1, "the second call must not fetch: \(server.requests)")
        }
    }

    @Test func aCutConnectionKeepsThePartialFileAndTheNextCallResumesWithARange() async throws {
        try await withServer { server, folder, files in
            let cut = 1_000_000
            server.set(.cutOnceAfter(bytes: cut), for: images)
            let destination = folder + "/" + images
            let digest = try await systemSHA256(files[images]!)
            do {
                _ = try await FileDownloader().download(from: url(server, images), to: destination, sha256: digest)
                Issue.record("a cut connection was not reported")
            } catch let error as DownloadError {
                guard case let .interrupted(_, partialFile, bytes, _) = error else { throw error }
                #expect(partialFile == destination + ".part")
                #expect(bytes == Int64(cut))
                #expect("\(error)".contains("run the same command again to resume"))
            }
            #expect(fileSize(destination + ".part") == cut)
            #expect(fileSize(destination) == nil)

            let size = Int64(fileSize(files[images]!)!)
            let outcome = try await FileDownloader().download(from: url(server, images), to: destination, sha256: digest)
            #expect(outcome == .downloaded(bytes: size, resumedFrom: Int64(cut)))
            #expect(server.requests == [.init(path: images, range: nil), .init(path: images, range: "bytes=\(cut)-")])
            #expect(try await systemSHA256(destination) == digest)
            #expect(fileSize(destination + ".part") == nil)
        }
    }

    @Test func aServerThatIgnoresTheRangeIsFollowedFromTheStart() async throws {
        try await withServer { server, folder, files in
            server.set(.ignoringRanges, for: labels)
            let destination = folder + "/" + labels
            try Data(repeating: 0x55, count: 700).write(to: URL(fileURLWithPath: destination + ".part"))
            let digest = try await systemSHA256(files[labels]!)
            let outcome = try await FileDownloader().download(from: url(server, labels), to: destination, sha256: digest)
            #expect(outcome == .downloaded(bytes: Int64(fileSize(files[labels]!)!), resumedFrom: 0))
            #expect(server.requests == [.init(path: labels, range: "bytes=700-")])
            #expect(try await systemSHA256(destination) == digest)
        }
    }

    @Test func aWholePartialFileIsCheckedWhenTheServerRefusesTheRange() async throws {
        try await withServer { server, folder, files in
            let destination = folder + "/" + labels
            let digest = try await systemSHA256(files[labels]!)
            let size = fileSize(files[labels]!)!
            // A complete but unchecked partial file: the server answers 416 and the file is taken as it is.
            try FileManager.default.copyItem(atPath: files[labels]!, toPath: destination + ".part")
            let outcome = try await FileDownloader().download(from: url(server, labels), to: destination, sha256: digest)
            #expect(outcome == .downloaded(bytes: Int64(size), resumedFrom: Int64(size)))
            #expect(try await systemSHA256(destination) == digest)

            // A wrong partial file of the full size: checked, thrown away, fetched again from the start.
            try FileManager.default.removeItem(atPath: destination)
            try Data(repeating: 1, count: size).write(to: URL(fileURLWithPath: destination + ".part"))
            let again = try await FileDownloader().download(from: url(server, labels), to: destination, sha256: digest)
            #expect(again == .downloaded(bytes: Int64(size), resumedFrom: 0))
            #expect(server.requests.map(\.range) == ["bytes=\(size)-", "bytes=\(size)-", nil])
            #expect(try await systemSHA256(destination) == digest)
        }
    }

    @Test func aCorruptedFileIsDeletedAndTheMismatchNamesBothDigests() async throws {
        try await withServer { server, folder, files in
            server.set(.corrupted, for: labels)
            let destination = folder + "/" + labels
            let digest = try await systemSHA256(files[labels]!)
            do {
                _ = try await FileDownloader().download(from: url(server, labels), to: destination, sha256: digest)
                Issue.record("a corrupted file was accepted")
            } catch let error as DownloadError {
                guard case let .checksumMismatch(file, _, expected, actual) = error else { throw error }
                #expect(file == destination)
                #expect(expected == digest)
                #expect(actual != digest && actual.count == 64)
                #expect("\(error)".contains("the file was deleted"))
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
        }
    }

    @Test func aWrongFileAlreadyThereIsReplacedOnlyOnceTheNewOneIsChecked() async throws {
        try await withServer { server, folder, files in
            let destination = folder + "/" + labels
            try Data("old".utf8).write(to: URL(fileURLWithPath: destination))
            server.set(.corrupted, for: labels)
            let digest = try await systemSHA256(files[labels]!)
            await #expect(throws: DownloadError.self) {
                try await FileDownloader().download(from: url(server, labels), to: destination, sha256: digest)
            }
            #expect(try String(contentsOfFile: destination, encoding: .utf8) == "old")
            server.set(.normal, for: labels)
            _ = try await FileDownloader().download(from: url(server, labels), to: destination, sha256: digest)
            #expect(try await systemSHA256(destination) == digest)
        }
    }

    @Test func aStalledTransferTimesOutAndKeepsThePartialFile() async throws {
        try await withServer { server, folder, files in
            // The server would close the connection after 8 s; the 1 s idle timeout must end it first
            // (a close would read "transfer closed …", not "timed out").
            server.set(.stallAfter(bytes: 3000, seconds: 8), for: labels)
            let destination = folder + "/" + labels
            let digest = try await systemSHA256(files[labels]!)
            do {
                _ = try await FileDownloader(idleTimeout: 1).download(from: url(server, labels), to: destination, sha256: digest)
                Issue.record("a stalled transfer was not reported")
            } catch let error as DownloadError {
                guard case let .interrupted(_, partialFile, bytes, reason) = error else { throw error }
                #expect(reason == "no data for 1 s (timed out)")
                #expect(bytes == 3000)
                #expect(fileSize(partialFile) == 3000)
            }
        }
    }

    @Test func httpErrorsAndRefusedConnectionsNameTheURL() async throws {
        try await withServer { server, folder, _ in
            server.set(.status(503), for: labels)
            let destination = folder + "/" + labels
            await #expect(throws: DownloadError.httpStatus(code: 503, url: server.baseURL + labels)) {
                try await FileDownloader().download(from: url(server, labels), to: destination, sha256: String(repeating: "0", count: 64))
            }
            await #expect(throws: DownloadError.httpStatus(code: 404, url: server.baseURL + "absent.gz")) {
                try await FileDownloader().download(from: url(server, "absent.gz"), to: destination, sha256: String(repeating: "0", count: 64))
            }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder)
            #expect(leftovers.isEmpty)

            let closed = url(server, labels)
            server.stop()
            await #expect(throws: DownloadError.connectionFailed(url: closed.absoluteString, reason: "connection refused")) {
                try await FileDownloader().download(from: closed, to: destination, sha256: String(repeating: "0", count: 64))
            }
        }
    }
}
