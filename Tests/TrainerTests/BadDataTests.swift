import Foundation
import Testing

/// Missing and malformed data files end `trainer` with a message naming the file and a non-zero exit.
@Suite struct BadDataTests {
    /// A data folder whose mnist/ holds the given IDX files (name → bytes), removed afterwards.
    func dataFolder(_ files: [String: [UInt8]]) throws -> String {
        let root = temporaryPath("data")
        try FileManager.default.createDirectory(atPath: root + "/mnist", withIntermediateDirectories: true)
        for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: root + "/mnist/" + name)) }
        return root
    }

    func header(_ rank: UInt8, _ dimensions: [Int]) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, 8, rank]
        for d in dimensions { bytes += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        return bytes
    }

    func expectFailure(_ files: [String: [UInt8]], naming file: String, saying reason: String) async throws {
        let root = try dataFolder(files)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let run = try await runTrainer(["train", "--dataset", "mnist", "--data-dir", root, "--epochs", "1"], timeout: 60)
        #expect(run.exitedNormally, "trainer crashed instead of reporting \(reason)")
        #expect(run.status != 0)
        #expect(run.stderr.contains(file), "stderr does not name \(file): \(run.stderr)")
        #expect(run.stderr.contains(reason), "stderr does not say \(reason): \(run.stderr)")
    }

    var goodImages: [UInt8] { header(3, [3, 2, 2]) + [UInt8](repeating: 7, count: 12) }
    var goodLabels: [UInt8] { header(1, [3]) + [1, 2, 3] }

    @Test func missingFile() async throws {
        try await expectFailure(["train-labels-idx1-ubyte": goodLabels], naming: "train-images-idx3-ubyte", saying: "no such file")
    }

    @Test func missingDataFolder() async throws {
        let run = try await runTrainer(["train", "--dataset", "mnist", "--data-dir", "/nonexistent-folder"], timeout: 60)
        #expect(run.status != 0)
        #expect(run.stderr.contains("/nonexistent-folder/mnist"))
    }

    @Test func wrongMagic() async throws {
        try await expectFailure(["train-images-idx3-ubyte": [0x50, 0x4B, 3, 4] + goodImages.dropFirst(4), "train-labels-idx1-ubyte": goodLabels],
                          naming: "train-images-idx3-ubyte", saying: "wrong magic number")
    }

    @Test func truncatedImages() async throws {
        try await expectFailure(["train-images-idx3-ubyte": Array(goodImages.dropLast(5)), "train-labels-idx1-ubyte": goodLabels],
                          naming: "train-images-idx3-ubyte", saying: "truncated")
    }

    @Test func countMismatch() async throws {
        try await expectFailure(["train-images-idx3-ubyte": goodImages, "train-labels-idx1-ubyte": header(1, [2]) + [1, 2]],
                          naming: "train-labels-idx1-ubyte", saying: "holds 2 labels but the image file holds 3 images")
    }

    @Test func corruptGzip() async throws {
        try await expectFailure(["train-images-idx3-ubyte.gz": [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF],
                           "train-labels-idx1-ubyte": goodLabels],
                          naming: "train-images-idx3-ubyte.gz", saying: "gzip")
    }

    @Test func dimensionsThatOverflow() async throws {
        try await expectFailure(["train-images-idx3-ubyte": header(3, [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF]) + [1, 2, 3],
                                 "train-labels-idx1-ubyte": goodLabels],
                                naming: "train-images-idx3-ubyte", saying: "more than any file can hold")
    }

    /// A plain IDX image file of `count` images of `rows`×`columns`, and its labels.
    func images(_ count: Int, _ rows: Int, _ columns: Int) -> [UInt8] {
        header(3, [count, rows, columns]) + [UInt8](repeating: 9, count: count * rows * columns)
    }

    func labels(_ count: Int) -> [UInt8] { header(1, [count]) + [UInt8](repeating: 3, count: count) }

    /// Both splits, each given as (image count, rows, columns).
    func splits(train: (Int, Int, Int), test: (Int, Int, Int)) -> [String: [UInt8]] {
        ["train-images-idx3-ubyte": images(train.0, train.1, train.2), "train-labels-idx1-ubyte": labels(train.0),
         "t10k-images-idx3-ubyte": images(test.0, test.1, test.2), "t10k-labels-idx1-ubyte": labels(test.0)]
    }

    @Test func imagesOfAnotherShapeNameTheFileAndTheShapeTheModelTakes() async throws {
        try await expectFailure(splits(train: (4, 14, 14), test: (4, 28, 28)), naming: "train-images-idx3-ubyte",
                                saying: "images are 14×14; mnist and the models built for it take 28×28 (784 inputs)")
        try await expectFailure(splits(train: (4, 0, 28), test: (4, 28, 28)), naming: "train-images-idx3-ubyte",
                                saying: "images are 0×28; mnist and the models built for it take 28×28")
        try await expectFailure(splits(train: (4, 28, 28), test: (4, 28, 27)), naming: "t10k-images-idx3-ubyte",
                                saying: "images are 28×27")
    }

    @Test func emptySplitsAreRefusedByEveryCommand() async throws {
        for (files, file, what) in [(splits(train: (0, 28, 28), test: (4, 28, 28)), "train-images-idx3-ubyte", "nothing to train on"),
                                    (splits(train: (4, 28, 28), test: (0, 28, 28)), "t10k-images-idx3-ubyte", "nothing to test with")] {
            let root = try dataFolder(files)
            defer { try? FileManager.default.removeItem(atPath: root) }
            for command in [["train"], ["local", "--workers", "2"]] {
                let run = try await runTrainer(command + ["--dataset", "mnist", "--data-dir", root, "--epochs", "1"], timeout: 60)
                #expect(run.exitedNormally && run.status != 0, "\(command) with an empty split: \(run.stdout)")
                #expect(run.stderr.contains("\(root)/mnist/\(file): holds no images: \(what)"), "\(command): \(run.stderr)")
            }
        }
    }

    @Test func corruptCheckpoint() async throws {
        let path = temporaryPath("bad.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data([200, 0, 0, 0, 0, 0, 0, 0, 123]).write(to: URL(fileURLWithPath: path))
        let run = try await runTrainer(["eval", "--checkpoint", path, "--dataset", "xor"], timeout: 60)
        #expect(run.exitedNormally && run.status != 0)
        #expect(run.stderr.contains(path))
        #expect(run.stderr.contains("header length"))
    }
}
