import CZlib
import Foundation
import Testing
import TestSupport
@testable import Datasets

/// CIFAR-10 records: each label byte followed by 3072 pixels from `pixel(record, channel, index)`,
/// channel 0 = red, 1 = green, 2 = blue, index = row · 32 + column.
func cifarRecords(labels: [UInt8], pixel: (Int, Int, Int) -> UInt8 = { record, channel, index in
    UInt8((record * 7 + channel * 50 + index) % 256)
}) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(labels.count * CIFAR10Dataset.recordBytes)
    for (record, label) in labels.enumerated() {
        bytes.append(label)
        for channel in 0..<3 {
            for index in 0..<1024 { bytes.append(pixel(record, channel, index)) }
        }
    }
    return bytes
}

/// The ten CIFAR-10 class names as `batches.meta.txt` lists them (with the release's blank lines).
let cifarClassNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

@Suite(.blocking) struct CIFAR10DatasetTests {
    @Test func plainAndGzipBatchesLoadTheSame() throws {
        let plain = try TemporaryFolder(), zipped = try TemporaryFolder()
        defer { plain.remove(); zipped.remove() }
        for (folder, gzip) in [(plain, false), (zipped, true)] {
            let suffix = gzip ? ".bin.gz" : ".bin"
            try folder.write("data_batch_1" + suffix, cifarRecords(labels: [3, 1, 4]), gzip: gzip)
            try folder.write("test_batch" + suffix, cifarRecords(labels: [9, 0]), gzip: gzip)
        }
        for split in [CIFAR10Dataset.Split.train, .test] {
            let a = try CIFAR10Dataset(folder: plain.path, split: split)
            let b = try CIFAR10Dataset(folder: zipped.path, split: split)
            #expect(a.samples.features == b.samples.features)
            #expect(a.samples.labels == b.samples.labels)
            #expect(a.samples.sampleShape == [3, 32, 32])
            #expect(a.samples.classCount == 10)
            #expect(b.files.allSatisfy { $0.hasSuffix(".bin.gz") })
        }
        let train = try CIFAR10Dataset.load(folder: zipped.path, split: .train)
        #expect(train.name == "cifar-10/train")
        #expect(train.labels == [3, 1, 4])
        #expect(train.features.count == 3 * 3072)
        #expect(train.targets == [3, 1, 4])
        #expect(try CIFAR10Dataset.load(folder: plain.path, split: .test).labels == [9, 0])
    }

    @Test func trainingBatchesAreReadInOrderAndNamed() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // Batch 4 gzip, batch 2 plain, written out of order; 1, 3 and 5 absent.
        try folder.write("data_batch_4.bin.gz", cifarRecords(labels: [4, 4]), gzip: true)
        try folder.write("data_batch_2.bin", cifarRecords(labels: [2]))
        let set = try CIFAR10Dataset(folder: folder.path, split: .train)
        #expect(set.samples.labels == [2, 4, 4])
        #expect(set.files == [folder.file("data_batch_2.bin"), folder.file("data_batch_4.bin.gz")])
        #expect(set.summary == "cifar-10/train: 3 images from data_batch_2.bin, data_batch_4.bin.gz "
                + "(data_batch_1, data_batch_3, data_batch_5 absent)")
        // Batch 2's single record comes first: its red plane starts at (0·7 + 0) % 256 = 0.
        #expect(set.samples.features[0] == normalizedPixel(0))
    }

    @Test func thePlainFileWinsWhenBothExist() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("test_batch.bin", cifarRecords(labels: [1]))
        try folder.write("test_batch.bin.gz", cifarRecords(labels: [2]), gzip: true)
        let set = try CIFAR10Dataset(folder: folder.path, split: .test)
        #expect(set.files == [folder.file("test_batch.bin")])
        #expect(set.samples.labels == [1])
    }

    @Test func pixelsAreNormalisedPerChannelInRedGreenBlueOrder() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // Red 0 except (row 1, column 2) = 10, green 255, blue 51; the second record all 128.
        let first = cifarRecords(labels: [7]) { _, channel, index in
            switch channel {
            case 0: index == 1 * 32 + 2 ? 10 : 0
            case 1: 255
            default: 51
            }
        }
        let second = cifarRecords(labels: [8]) { _, _, _ in 128 }
        try folder.write("test_batch.bin", first + second)
        let set = try CIFAR10Dataset.load(folder: folder.path, split: .test)
        #expect(set.count == 2)
        let features = set.features
        #expect(features[0] == -1)
        #expect(features[34] == normalizedPixel(10))
        #expect(features[33] == -1 && features[35] == -1)
        #expect(features[0..<1024].filter { $0 != -1 }.count == 1)
        #expect(features[1024..<2048].allSatisfy { $0 == 1 })
        #expect(features[2048..<3072].allSatisfy { $0 == (Float(51) / 255 - 0.5) / 0.5 })
        #expect(features[3072..<6144].allSatisfy { $0 == normalizedPixel(128) })
        #expect(abs(normalizedPixel(128) - 0.003921569) < 1e-6)
    }

    @Test func missingFilesAreNamed() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let test = #expect(throws: DatasetError.self) { try CIFAR10Dataset(folder: folder.path, split: .test) }
        #expect(test?.path == folder.file("test_batch.bin.gz"))
        #expect(test?.reason.contains("no such file") == true)
        #expect(test?.reason.contains("test_batch.bin without .gz") == true)

        try folder.write("data_batch_6.bin", cifarRecords(labels: [1]))
        let train = #expect(throws: DatasetError.self) { try CIFAR10Dataset(folder: folder.path, split: .train) }
        #expect(train?.path == folder.path)
        #expect(train?.reason.contains("no training batch") == true)
        #expect(train?.reason.contains("data_batch_1.bin") == true)

        let absent = folder.file("cifar-10-batches-bin")
        let noFolder = #expect(throws: DatasetError.self) { try CIFAR10Dataset(folder: absent, split: .train) }
        #expect(noFolder?.path == absent)
        #expect(noFolder?.reason.contains("no such folder") == true)
    }

    @Test func truncatedFileSaysHowManyRecordsAndLeftoverBytes() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("data_batch_1.bin", Array(cifarRecords(labels: [1, 2]).dropLast(5)))
        let error = #expect(throws: DatasetError.self) { try CIFAR10Dataset(folder: folder.path, split: .train) }
        #expect(error?.path == folder.file("data_batch_1.bin"))
        #expect(error?.reason.contains("truncated") == true)
        #expect(error?.reason.contains("6141 bytes is not a multiple of the 3073-byte record") == true)
        #expect(error?.reason.contains("1 whole record and 3068 bytes left over") == true)

        try folder.write("test_batch.bin.gz", Array(cifarRecords(labels: [1]).prefix(100)), gzip: true)
        let short = #expect(throws: DatasetError.self) { try CIFAR10Dataset(folder: folder.path, split: .test) }
        #expect(short?.path == folder.file("test_batch.bin.gz"))
        #expect(short?.reason.contains("0 whole records and 100 bytes left over") == true)
    }

    @Test func cifar100SizedFileGetsAHint() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("test_batch.bin", [UInt8](repeating: 1, count: 3074 * 2))
        let error = #expect(throws: DatasetError.self) { try CIFAR10Dataset(folder: folder.path, split: .test) }
        #expect(error?.reason.contains("CIFAR-100") == true)
    }

    @Test func emptyFileIsReported() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("data_batch_1.bin", cifarRecords(labels: [1]))
        try folder.write("data_batch_2.bin", [])
        let error = #expect(throws: DatasetError.self) { try CIFAR10Dataset(folder: folder.path, split: .train) }
        #expect(error?.path == folder.file("data_batch_2.bin"))
        #expect(error?.reason.contains("empty file") == true)
    }

    @Test func labelsOutsideTheTenClassesAreReportedWithTheRecord() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("test_batch.bin.gz", cifarRecords(labels: [0, 9, 10, 3]), gzip: true)
        let error = #expect(throws: DatasetError.self) { try CIFAR10Dataset(folder: folder.path, split: .test) }
        #expect(error?.path == folder.file("test_batch.bin.gz"))
        #expect(error?.reason.contains("label 10 in record 2") == true)
        #expect(error?.reason.contains("byte offset 6146") == true)
    }

    @Test func corruptGzipIsReported() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // A gzip stream cut in half.
        try folder.write("data_batch_1.bin.gz", cifarRecords(labels: [1, 2, 3, 4, 5]), gzip: true)
        let path = folder.file("data_batch_1.bin.gz")
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: path))
        let cut = #expect(throws: DatasetError.self) { try CIFAR10Dataset(folder: folder.path, split: .train) }
        #expect(cut?.path == path)
        // zlib hands back the 156 bytes it could inflate, which the record-size check then rejects.
        #expect(cut?.reason.contains("truncated") == true, "\(String(describing: cut))")
        // A gzip header followed by garbage.
        try folder.write("test_batch.bin.gz", [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF])
        let garbage = #expect(throws: DatasetError.self) { try CIFAR10Dataset(folder: folder.path, split: .test) }
        #expect(garbage?.path == folder.file("test_batch.bin.gz"))
        #expect(garbage?.reason.contains("gzip") == true)
    }

    @Test func gzipCutAtARecordBoundaryIsReported() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // Two records with a flush between them, the file cut right after the flush: the first
        // record inflates completely and the stream then ends without its trailer.
        let path = folder.file("test_batch.bin.gz")
        let records = cifarRecords(labels: [1, 2])
        let handle = try #require(gzopen(path, "wb"))
        _ = records.withUnsafeBytes { gzwrite(handle, $0.baseAddress, UInt32(CIFAR10Dataset.recordBytes)) }
        gzflush(handle, Z_SYNC_FLUSH)
        let cut = Int(gzoffset(handle))
        _ = records.withUnsafeBytes { gzwrite(handle, $0.baseAddress! + CIFAR10Dataset.recordBytes, UInt32(CIFAR10Dataset.recordBytes)) }
        gzclose(handle)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        try whole.prefix(cut).write(to: URL(fileURLWithPath: path))
        // gzread returns the first record and then 0; only gzerror's Z_BUF_ERROR says the stream was cut.
        let error = #expect(throws: DatasetError.self) { try CIFAR10Dataset(folder: folder.path, split: .test) }
        #expect(error?.path == path)
        #expect(error?.reason.contains("gzip") == true)
    }

    @Test func classNamesComeFromBatchesMetaWhenPresent() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("test_batch.bin", cifarRecords(labels: [5]))
        #expect(try CIFAR10Dataset(folder: folder.path, split: .test).classNames == nil)

        try folder.write("batches.meta.txt", Array((cifarClassNames.joined(separator: "\n") + "\n\n\n").utf8))
        let set = try CIFAR10Dataset(folder: folder.path, split: .test)
        #expect(set.classNames == cifarClassNames)
        #expect(set.classNames?[Int(set.samples.labels[0])] == "dog")

        try folder.write("batches.meta.txt", Array("airplane\r\nautomobile\r\nbird\r\n".utf8))
        let error = #expect(throws: DatasetError.self) { try CIFAR10Dataset.classNames(folder: folder.path) }
        #expect(error?.path == folder.file("batches.meta.txt"))
        #expect(error?.reason.contains("holds 3 class names, expected 10") == true)
    }

    @Test(.enabled(if: sharedDataFolder(CIFAR10Dataset.folderName) != nil,
                   "needs CIFAR-10: set TRAINER_DATA_DIR to a folder with cifar-10-batches-bin/ (CI uses ../shared/data)"))
    func realCIFAR10Loads() throws {
        let folder = try #require(sharedDataFolder(CIFAR10Dataset.folderName))
        let train = try CIFAR10Dataset(folder: folder, split: .train)
        let test = try CIFAR10Dataset(folder: folder, split: .test)
        // The shared copy holds data_batch_1 only; the full release has all five.
        #expect(train.files.count >= 1)
        #expect(train.files.first?.contains("data_batch_1.bin") == true)
        #expect(train.samples.count == 10000 * train.files.count)
        #expect(test.samples.count == 10000)
        #expect(train.samples.sampleShape == [3, 32, 32])
        #expect(Set(train.samples.labels) == Set(0...9))
        #expect(Set(test.samples.labels) == Set(0...9))
        // The test batch is balanced: 1000 images per class.
        #expect(Dictionary(grouping: test.samples.labels, by: { $0 }).values.allSatisfy { $0.count == 1000 })
        #expect(test.classNames == cifarClassNames)
        #expect(test.samples.features.min()! >= -1 && test.samples.features.max()! <= 1)
    }
}
