import Datasets
import Foundation
import Testing
import TestSupport

/// `trainer download` as a user runs it: the built executable against a real HTTP server on 127.0.0.1,
/// through --mirror and --checksums, with the real data files.
@Suite struct DownloadCommandTests {
    /// A server for `files`, a data folder and a checksum file written by `sha256sum`; removed afterwards.
    private struct Setup {
        let server: HTTPTestServer
        let folder: String
        let sums: String
        var dataDir: String { folder + "/data" }

        init(files: [String: String]) async throws {
            server = try HTTPTestServer(files: files)
            folder = try makeTemporaryFolder("download")
            sums = folder + "/SHA256SUMS"
            try await writeChecksums(of: files.values.sorted(), to: sums)
        }

        func run(_ dataset: String, _ extra: [String] = [], timeout: TimeInterval = 120) async throws -> TrainerRun {
            try await runTrainer(["download", dataset, "--data-dir", dataDir, "--mirror", server.baseURL, "--checksums", sums] + extra,
                                 timeout: timeout)
        }

        /// Every file under the data folder, relative to it.
        func dataFiles() throws -> [String] {
            guard FileManager.default.fileExists(atPath: dataDir) else { return [] }
            return try FileManager.default.subpathsOfDirectory(atPath: dataDir).sorted()
        }

        func remove() {
            server.stop()
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    @Test func fashionMNISTLandsWhereTheLoaderReadsItAndASecondRunFetchesNothing() async throws {
        guard let files = fashionFiles() else { return }
        let setup = try await Setup(files: files)
        defer { setup.remove() }
        let run = try await setup.run("fashion-mnist")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try setup.dataFiles() == ["fashion-mnist"] + idxFileNames.sorted().map { "fashion-mnist/" + $0 })
        for name in idxFileNames {
            #expect(run.stdout.contains("\(name): downloading \(setup.server.baseURL)\(name)"), "\(run.stdout)")
            #expect(run.stdout.contains("\(name): SHA-256 ok, \(fileSize(files[name]!)!) bytes"), "\(run.stdout)")
        }
        #expect(run.stdout.contains("fashion-mnist is ready in \(setup.dataDir)/fashion-mnist"))
        let train = try IDXDataset.load(folder: setup.dataDir + "/fashion-mnist", split: .train, name: "fashion-mnist")
        let test = try IDXDataset.load(folder: setup.dataDir + "/fashion-mnist", split: .test, name: "fashion-mnist")
        #expect(train.count == 60000)
        #expect(test.count == 10000)

        let again = try await setup.run("fashion-mnist")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(setup.server.requests.count == 4, "the second run fetched again: \(setup.server.requests)")
        for name in idxFileNames { #expect(again.stdout.contains("\(name): already there with the right SHA-256")) }
    }

    @Test(.blocking, .enabled(if: sharedData("mnist") != nil, "TRAINER_DATA_DIR with mnist/ is absent"))
    func mnistFromTheSharedFilesLoads() async throws {
        let source = try #require(sharedData("mnist")) + "/mnist"
        let setup = try await Setup(files: Dictionary(uniqueKeysWithValues: idxFileNames.map { ($0, source + "/" + $0) }))
        defer { setup.remove() }
        let run = try await setup.run("mnist")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try IDXDataset.load(folder: setup.dataDir + "/mnist", split: .train, name: "mnist").count == 60000)
        #expect(try IDXDataset.load(folder: setup.dataDir + "/mnist", split: .test, name: "mnist").count == 10000)
        #expect(try setup.dataFiles().filter { $0.hasSuffix(".part") }.isEmpty)
    }

    /// A `cifar-10-binary.tar.gz` as the official one is laid out (GNU tar, `cifar-10-batches-bin/…`, plain .bin
    /// batches), built from the shared batches: data_batch_1, a data_batch_2 of 2000 test records, test_batch.
    private func buildCIFARArchive(from shared: String, in folder: String) async throws -> String {
        let batches = folder + "/build/cifar-10-batches-bin"
        try FileManager.default.createDirectory(atPath: batches, withIntermediateDirectories: true)
        let first = try CompressedFile.read(shared + "/data_batch_1.bin.gz")
        let test = try CompressedFile.read(shared + "/test_batch.bin.gz")
        try Data(first).write(to: URL(fileURLWithPath: batches + "/data_batch_1.bin"))
        try Data(test.prefix(2000 * CIFAR10Dataset.recordBytes)).write(to: URL(fileURLWithPath: batches + "/data_batch_2.bin"))
        try Data(test).write(to: URL(fileURLWithPath: batches + "/test_batch.bin"))
        try FileManager.default.copyItem(atPath: shared + "/batches.meta.txt", toPath: batches + "/batches.meta.txt")
        try Data("<html>readme</html>\n".utf8).write(to: URL(fileURLWithPath: batches + "/readme.html"))
        try await runTool(["tar", "--format=gnu", "-czf", "../cifar-10-binary.tar.gz", "cifar-10-batches-bin"], in: folder + "/build")
        try FileManager.default.removeItem(atPath: folder + "/build")
        return folder + "/cifar-10-binary.tar.gz"
    }

    @Test(.blocking, .enabled(if: sharedData(CIFAR10Dataset.folderName) != nil, "TRAINER_DATA_DIR with cifar-10-batches-bin/ is absent"))
    func cifar10ArchiveIsUnpackedAndEveryBatchLoads() async throws {
        let shared = try #require(sharedData(CIFAR10Dataset.folderName)) + "/" + CIFAR10Dataset.folderName
        let scratch = try makeTemporaryFolder("cifar-archive")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let archive = try await buildCIFARArchive(from: shared, in: scratch)
        let setup = try await Setup(files: ["cifar-10-binary.tar.gz": archive])
        defer { setup.remove() }

        let run = try await setup.run("cifar10")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("Unpacked 5 files into \(setup.dataDir)/cifar-10-batches-bin/"), "\(run.stdout)")
        let folder = setup.dataDir + "/" + CIFAR10Dataset.folderName
        let train = try CIFAR10Dataset(folder: folder, split: .train)
        #expect(train.samples.count == 12000)
        #expect(train.files.map { ($0 as NSString).lastPathComponent } == ["data_batch_1.bin", "data_batch_2.bin"])
        #expect(try CIFAR10Dataset(folder: folder, split: .test).samples.count == 10000)
        #expect(train.classNames?.count == 10)
        #expect(try setup.dataFiles().contains("cifar-10-binary.tar.gz"))

        // The archive is there and checked: no second fetch; batches 3–5 missing, so it is unpacked again.
        let again = try await setup.run("cifar10")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("cifar-10-binary.tar.gz: already there with the right SHA-256"))
        #expect(setup.server.requests.count == 1)
    }

    @Test func aTruncatedOrCorruptedFileFailsWithTheDigestsAndLeavesNothing() async throws {
        guard let files = fashionFiles() else { return }
        for (behaviour, label) in [(HTTPTestServer.Behaviour.truncated(bytes: 1_000_000), "truncated"), (.corrupted, "corrupted")] {
            let setup = try await Setup(files: files)
            defer { setup.remove() }
            setup.server.set(behaviour, for: "t10k-images-idx3-ubyte.gz")
            let run = try await setup.run("fashion-mnist")
            #expect(run.status != 0, "\(label)")
            #expect(run.exitedNormally)
            let digest = try await systemSHA256(files["t10k-images-idx3-ubyte.gz"]!)
            let destination = setup.dataDir + "/fashion-mnist/t10k-images-idx3-ubyte.gz"
            #expect(run.stderr.contains("checksum mismatch for \(destination) from \(setup.server.baseURL)t10k-images-idx3-ubyte.gz: "
                                        + "expected SHA-256 \(digest), got "), "\(label): \(run.stderr)")
            #expect(run.stderr.contains("the file was deleted"), "\(label)")
            #expect(fileSize(destination) == nil, "\(label)")
            #expect(fileSize(destination + ".part") == nil, "\(label)")
        }
    }

    @Test func aCutConnectionIsResumedByTheNextRunWithARangeRequest() async throws {
        guard let files = fashionFiles() else { return }
        let setup = try await Setup(files: files)
        defer { setup.remove() }
        let name = "train-images-idx3-ubyte.gz", cut = 5_000_000
        setup.server.set(.cutOnceAfter(bytes: cut), for: name)
        let destination = setup.dataDir + "/fashion-mnist/" + name

        let first = try await setup.run("fashion-mnist")
        #expect(first.status != 0)
        #expect(first.exitedNormally)
        #expect(first.stderr.contains("download of \(setup.server.baseURL)\(name) interrupted after \(cut) bytes"), "\(first.stderr)")
        #expect(first.stderr.contains("they are kept in \(destination).part: run the same command again to resume"), "\(first.stderr)")
        #expect(fileSize(destination + ".part") == cut)
        #expect(fileSize(destination) == nil)

        let second = try await setup.run("fashion-mnist")
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("\(name): resuming \(setup.server.baseURL)\(name) at byte \(cut)"), "\(second.stdout)")
        #expect(second.stdout.contains("\(cut) of them from the earlier partial download"), "\(second.stdout)")
        let ranges = setup.server.requests.filter { $0.path == name }.map(\.range)
        #expect(ranges == [nil, "bytes=\(cut)-"])
        #expect(try await systemSHA256(destination) == systemSHA256(files[name]!))
        #expect(try setup.dataFiles().filter { $0.hasSuffix(".part") }.isEmpty)
        #expect(try IDXDataset.load(folder: setup.dataDir + "/fashion-mnist", split: .train, name: "fashion-mnist").count == 60000)
    }

    @Test func httpErrorsRefusedConnectionsAndBadChecksumFilesAreClear() async throws {
        guard let files = fashionFiles() else { return }
        let setup = try await Setup(files: files)
        defer { setup.remove() }
        setup.server.set(.status(404), for: "train-images-idx3-ubyte.gz")
        let missing = try await setup.run("fashion-mnist")
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("HTTP 404 from \(setup.server.baseURL)train-images-idx3-ubyte.gz"), "\(missing.stderr)")

        let badSums = setup.folder + "/bad-sums"
        try "\n\(String(repeating: "ab", count: 32))  train-images-idx3-ubyte.gz\nxyz  t10k-images-idx3-ubyte.gz\n"
            .write(toFile: badSums, atomically: true, encoding: .utf8)
        let malformed = try await runTrainer(["download", "mnist", "--data-dir", setup.dataDir, "--mirror", setup.server.baseURL,
                                              "--checksums", badSums], timeout: 60)
        #expect(malformed.status != 0)
        #expect(malformed.stderr.contains("\(badSums):3: `xyz` is not a SHA-256 digest"), "\(malformed.stderr)")

        try "\(String(repeating: "ab", count: 32))  train-images-idx3-ubyte.gz\n".write(toFile: badSums, atomically: true, encoding: .utf8)
        let incomplete = try await runTrainer(["download", "mnist", "--data-dir", setup.dataDir, "--checksums", badSums], timeout: 60)
        #expect(incomplete.status != 0)
        #expect(incomplete.stderr.contains("--checksums \(badSums) has no line for train-labels-idx1-ubyte.gz"), "\(incomplete.stderr)")

        let badMirror = try await runTrainer(["download", "mnist", "--data-dir", setup.dataDir, "--mirror", "ftp://example.org/"], timeout: 60)
        #expect(badMirror.status != 0)
        #expect(badMirror.stderr.contains("--mirror ftp://example.org/: give an http:// or https:// URL"), "\(badMirror.stderr)")

        let closed = setup.server.baseURL
        setup.server.stop()
        let refused = try await setup.run("fashion-mnist")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("cannot connect to \(closed)train-images-idx3-ubyte.gz: connection refused"), "\(refused.stderr)")
        #expect(try setup.dataFiles() == ["fashion-mnist"])
    }

    @Test func helpSaysWhereTheFilesGo() async throws {
        let run = try await runTrainer(["download", "--help"], timeout: 60)
        #expect(run.status == 0)
        for text in ["mnist/", "fashion-mnist/", "cifar-10-batches-bin/", "./data", "--mirror", "--checksums", ".part",
                     DatasetSource.mnist.baseURL, DatasetSource.cifar10.baseURL] {
            #expect(run.stdout.contains(text), "help lacks \(text)")
        }
        let top = try await runTrainer(["--help"], timeout: 60)
        #expect(top.stdout.contains("download"))
    }
}
