import Foundation
import Testing
import TestSupport
@testable import Datasets

@Suite(.blocking) struct IDXFileTests {
    @Test func plainAndGzipFilesLoadTheSame() throws {
        let plain = try TemporaryFolder(), zipped = try TemporaryFolder()
        defer { plain.remove(); zipped.remove() }
        try writeSplit(plain, prefix: "train", count: 5)
        try writeSplit(zipped, prefix: "train", count: 5, gzip: true)
        let a = try IDXDataset.load(folder: plain.path, split: .train, name: "tiny")
        let b = try IDXDataset.load(folder: zipped.path, split: .train, name: "tiny")
        #expect(a.count == 5)
        #expect(a.sampleShape == [1, 4, 4])
        #expect(a.labels == [0, 1, 2, 3, 4])
        #expect(a.features == b.features)
        #expect(a.labels == b.labels)
    }

    @Test func pixelsAreNormalisedToMinusOneOne() throws {
        #expect(normalizedPixel(0) == -1)
        #expect(normalizedPixel(255) == 1)
        #expect(abs(normalizedPixel(51) - (Float(51) / 255 - 0.5) / 0.5) < 1e-7)
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try writeSplit(folder, prefix: "t10k", count: 2)
        let set = try IDXDataset.load(folder: folder.path, split: .test, name: "tiny")
        #expect(set.features[0] == -1)
        #expect(set.features[17] == normalizedPixel(17))
    }

    @Test func missingFileIsNamed() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let error = #expect(throws: DatasetError.self) { try IDXDataset.load(folder: folder.path, split: .train, name: "x") }
        #expect(error?.path.hasSuffix("train-images-idx3-ubyte.gz") == true)
        #expect(error?.reason.contains("no such file") == true)
    }

    @Test func wrongMagicIsReported() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("a", [0x1F, 0x00, 0x08, 0x03] + [UInt8](repeating: 0, count: 20))
        let error = #expect(throws: DatasetError.self) { try IDXFile(path: folder.file("a"), rank: 3) }
        #expect(error?.path == folder.file("a"))
        #expect(error?.reason.contains("wrong magic") == true)
        try folder.write("b", idxBytes(dimensions: [1, 1, 1], body: [0], type: 0x0D))
        #expect(throws: DatasetError.self) { try IDXFile(path: folder.file("b"), rank: 3) }
        try folder.write("c", idxBytes(dimensions: [3], body: [1, 2, 3]))
        let rank = #expect(throws: DatasetError.self) { try IDXFile(path: folder.file("c"), rank: 3) }
        #expect(rank?.reason.contains("1 dimensions, expected 3") == true)
    }

    @Test func truncatedFileIsReported() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("short-body", idxBytes(dimensions: [10, 28, 28], body: [UInt8](repeating: 1, count: 100)))
        let error = #expect(throws: DatasetError.self) { try IDXFile(path: folder.file("short-body"), rank: 3) }
        #expect(error?.reason.contains("truncated") == true)
        #expect(error?.reason.contains("7840") == true)
        try folder.write("short-header", [0, 0, 8, 3, 0, 0])
        let header = #expect(throws: DatasetError.self) { try IDXFile(path: folder.file("short-header"), rank: 3) }
        #expect(header?.reason.contains("truncated") == true)
        try folder.write("empty", [])
        #expect(throws: DatasetError.self) { try IDXFile(path: folder.file("empty"), rank: 1) }
    }

    @Test func trailingBytesAreReported() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("long", idxBytes(dimensions: [2], body: [1, 2, 3]))
        let error = #expect(throws: DatasetError.self) { try IDXFile(path: folder.file("long"), rank: 1) }
        #expect(error?.reason.contains("1 unexpected bytes") == true)
    }

    @Test func truncatedGzipIsReported() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try writeSplit(folder, prefix: "train", count: 200, rows: 28, columns: 28, gzip: true)
        let path = folder.file("train-images-idx3-ubyte.gz")
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: DatasetError.self) { try IDXDataset.load(folder: folder.path, split: .train, name: "x") }
        #expect(error?.path == path)
    }

    @Test func imageAndLabelCountsMustAgree() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try writeSplit(folder, prefix: "train", count: 6, labelCount: 5)
        let error = #expect(throws: DatasetError.self) { try IDXDataset.load(folder: folder.path, split: .train, name: "x") }
        #expect(error?.path.hasSuffix("train-labels-idx1-ubyte") == true)
        #expect(error?.reason.contains("5 labels") == true)
        #expect(error?.reason.contains("6 images") == true)
    }

    @Test func labelsOutsideTheTenClassesAreReported() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("t10k-images-idx3-ubyte", idxBytes(dimensions: [2, 1, 1], body: [0, 0]))
        try folder.write("t10k-labels-idx1-ubyte", idxBytes(dimensions: [2], body: [3, 12]))
        let error = #expect(throws: DatasetError.self) { try IDXDataset.load(folder: folder.path, split: .test, name: "x") }
        #expect(error?.reason.contains("label 12 at index 1") == true)
    }

    @Test(.enabled(if: sharedDataFolder("mnist") != nil, "needs MNIST: set TRAINER_DATA_DIR to a folder with mnist/ (CI uses ../shared/data)"))
    func realMNISTLoadsInItsOriginalOrder() throws {
        let folder = try #require(sharedDataFolder("mnist"))
        let train = try IDXDataset.load(folder: folder, split: .train, name: "mnist")
        let test = try IDXDataset.load(folder: folder, split: .test, name: "mnist")
        #expect(train.count == 60000)
        #expect(test.count == 10000)
        #expect(train.sampleShape == [1, 28, 28])
        #expect(Array(train.labels.prefix(10)) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
        #expect(Array(test.labels.prefix(10)) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
        #expect(train.features.min() == -1)
        #expect(train.features.max() == 1)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist"),
                   "needs Fashion-MNIST: run Deploy/setup.sh (apt-get install dataset-fashion-mnist)"))
    func debianFashionMNISTLoads() throws {
        let train = try IDXDataset.load(folder: "/usr/share/datasets/fashion-mnist", split: .train, name: "fashion-mnist")
        #expect(train.count == 60000)
        #expect(Set(train.labels).count == 10)
    }
}
