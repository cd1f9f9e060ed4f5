import Foundation

/// CIFAR-10 in its binary release: `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`
/// (each plain or gzip-compressed as `.bin.gz`) in a folder usually called `cifar-10-batches-bin/`.
///
/// Every record is 1 label byte (0–9) followed by 3072 pixel bytes: 1024 red, then 1024 green, then
/// 1024 blue, each plane row-major 32×32. That is already the [channels, height, width] layout a
/// convolution expects, so a sample is [3, 32, 32], each pixel normalised per channel to
/// (x/255 − 0.5)/0.5 as torchvision's `Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))` does.
public struct CIFAR10Dataset: Sendable {
    /// Which half of the set to load.
    public enum Split: String, Sendable {
        /// Every `data_batch_N` present, N = 1…5, in that order (at least one).
        case train
        /// `test_batch`.
        case test
    }

    /// The folder name the binary release unpacks to.
    public static let folderName = "cifar-10-batches-bin"
    /// The number of training batch files in the full release.
    public static let trainBatchCount = 5
    /// The shape of one image: channels, height, width.
    public static let sampleShape = [3, 32, 32]
    /// Pixel bytes per image.
    public static let imageBytes = 3 * 32 * 32
    /// Bytes per record: the label byte and the pixels.
    public static let recordBytes = 1 + imageBytes
    /// The number of classes.
    public static let classCount = 10

    /// The images, labels 0–9, in file order (batch 1's records first for the training split).
    public let samples: LabeledDataset
    /// The split loaded.
    public let split: Split
    /// The files read, in order (for the training split: the `data_batch_N` files found).
    public let files: [String]
    /// The class names in label order, from `batches.meta.txt` when the folder has it.
    public let classNames: [String]?

    /// Loads `split` from `folder`, reading `NAME.bin` or `NAME.bin.gz` for each batch (the plain
    /// file when both exist); throws `DatasetError` naming the file for anything missing or malformed.
    public init(folder: String, split: Split, name: String = "cifar-10") throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw DatasetError(path: folder, reason: "no such folder (it should hold the CIFAR-10 binary batches, "
                               + "data_batch_1.bin … data_batch_5.bin and test_batch.bin, plain or .gz)")
        }
        let files: [String]
        switch split {
        case .train:
            files = (1...Self.trainBatchCount).compactMap { Self.existingBatch(folder: folder, stem: "data_batch_\($0)") }
            guard !files.isEmpty else {
                throw DatasetError(path: folder, reason: "no training batch: none of data_batch_1.bin … data_batch_\(Self.trainBatchCount).bin "
                                   + "(nor .bin.gz) is there")
            }
        case .test:
            guard let test = Self.existingBatch(folder: folder, stem: "test_batch") else {
                throw DatasetError(path: folder + "/test_batch.bin.gz", reason: "no such file (nor test_batch.bin without .gz)")
            }
            files = [test]
        }

        // Read and check every file first, so the floats are allocated once, at their final size.
        var batches: [(bytes: [UInt8], records: Int)] = []
        var labels: [Int32] = []
        for path in files {
            let bytes = try CompressedFile.read(path)
            let records = try Self.checkedRecordCount(bytes, path: path)
            labels += try Self.labels(bytes, records: records, path: path)
            batches.append((bytes, records))
        }
        let floatCount = labels.count * Self.imageBytes
        let features = [Float](unsafeUninitializedCapacity: floatCount) { buffer, initialized in
            var next = buffer.baseAddress!
            for index in batches.indices {
                Self.decodePixels(batches[index].bytes, records: batches[index].records, into: next)
                next += batches[index].records * Self.imageBytes
                batches[index].bytes = []
            }
            initialized = floatCount
        }
        self.samples = LabeledDataset(name: "\(name)/\(split.rawValue)", sampleShape: Self.sampleShape,
                                      features: features, labels: labels, classCount: Self.classCount)
        self.split = split
        self.files = files
        self.classNames = try Self.classNames(folder: folder)
    }

    /// The samples of `split` in `folder`, as `IDXDataset.load` gives MNIST's.
    public static func load(folder: String, split: Split, name: String = "cifar-10") throws -> LabeledDataset {
        try CIFAR10Dataset(folder: folder, split: split, name: name).samples
    }

    /// A line for logs naming the files read, for example
    /// `cifar-10/train: 10000 images from data_batch_1.bin.gz (data_batch_2 … data_batch_5 absent)`.
    public var summary: String {
        let names = files.map { ($0 as NSString).lastPathComponent }
        var line = "\(samples.name): \(samples.count) images from \(names.joined(separator: ", "))"
        if split == .train {
            let found = Set(names.map(Self.stem))
            let absent = (1...Self.trainBatchCount).map { "data_batch_\($0)" }.filter { !found.contains($0) }
            if !absent.isEmpty { line += " (\(absent.joined(separator: ", ")) absent)" }
        }
        return line
    }

    /// The class names in `folder/batches.meta.txt` (one per line, blank lines ignored), or nil when
    /// the file is absent; throws when it is present but does not hold exactly ten names.
    public static func classNames(folder: String) throws -> [String]? {
        let path = folder + "/batches.meta.txt"
        guard fileExists(path) else { return nil }
        let bytes = try CompressedFile.read(path, sizeLimit: 1 << 16)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw DatasetError(path: path, reason: "not UTF-8 text (it should hold the ten class names, one per line)")
        }
        let names = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        guard names.count == classCount else {
            throw DatasetError(path: path, reason: "holds \(names.count) class names, expected \(classCount) (one per line, in label order)")
        }
        return names
    }

    /// `folder/stem.bin` if it exists, else `folder/stem.bin.gz` if that does, else nil.
    static func existingBatch(folder: String, stem: String) -> String? {
        let plain = folder + "/" + stem + ".bin"
        if fileExists(plain) { return plain }
        if fileExists(plain + ".gz") { return plain + ".gz" }
        return nil
    }

    /// `data_batch_1` for `data_batch_1.bin.gz`.
    private static func stem(_ fileName: String) -> String {
        var name = fileName
        if name.hasSuffix(".gz") { name.removeLast(3) }
        if name.hasSuffix(".bin") { name.removeLast(4) }
        return name
    }

    /// The number of whole records in a batch's bytes, or an error for an empty or cut file.
    static func checkedRecordCount(_ bytes: [UInt8], path: String) throws -> Int {
        guard !bytes.isEmpty else {
            throw DatasetError(path: path, reason: "empty file (a CIFAR-10 batch holds records of \(recordBytes) bytes: "
                               + "1 label byte and \(imageBytes) pixel bytes)")
        }
        let (records, leftover) = bytes.count.quotientAndRemainder(dividingBy: recordBytes)
        guard leftover == 0 else {
            var reason = "truncated: \(bytes.count) bytes is not a multiple of the \(recordBytes)-byte record "
                + "(1 label + \(imageBytes) pixels): \(records) whole record\(records == 1 ? "" : "s") and \(leftover) bytes left over"
            if bytes.count % (recordBytes + 1) == 0 {
                reason += "; the size fits \(recordBytes + 1)-byte records, as in CIFAR-100's two label bytes"
            }
            throw DatasetError(path: path, reason: reason)
        }
        return records
    }

    /// The label byte of each of `records` records, checking that each is a class 0–9.
    static func labels(_ bytes: [UInt8], records: Int, path: String) throws -> [Int32] {
        var labels: [Int32] = []
        labels.reserveCapacity(records)
        for record in 0..<records {
            let label = bytes[record * recordBytes]
            guard label < classCount else {
                throw DatasetError(path: path, reason: "label \(label) in record \(record) (byte offset "
                                   + "\(record * recordBytes)) is not a class 0–9")
            }
            labels.append(Int32(label))
        }
        return labels
    }

    /// Writes the normalised pixels of `records` records to `destination`, skipping the label bytes.
    /// A plain pointer loop: it stays fast in debug builds too (about 0.1 s for a 10000-image batch).
    static func decodePixels(_ bytes: [UInt8], records: Int, into destination: UnsafeMutablePointer<Float>) {
        // One table lookup per pixel: the same values `normalizedPixel` gives, without the divisions.
        let table = (0...255).map { normalizedPixel(UInt8($0)) }
        bytes.withUnsafeBufferPointer { source in
            table.withUnsafeBufferPointer { table in
                let lookup = table.baseAddress!
                var out = destination
                for record in 0..<records {
                    var pixel = source.baseAddress! + record * recordBytes + 1
                    let end = pixel + imageBytes
                    while pixel < end {
                        out.pointee = lookup[Int(pixel.pointee)]
                        pixel += 1
                        out += 1
                    }
                }
            }
        }
    }
}
