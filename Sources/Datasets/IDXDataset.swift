/// MNIST and Fashion-MNIST: IDX image and label files (gzip or plain) in one folder.
public enum IDXDataset {
    /// Which half of the set to load.
    public enum Split: String, Sendable {
        case train
        case test

        var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    /// Loads a split from `folder`, accepting `NAME` or `NAME.gz` for each file, normalised to [−1, 1].
    public static func load(folder: String, split: Split, name: String) throws -> LabeledDataset {
        let images = try IDXFile(path: locate(folder: folder, file: "\(split.filePrefix)-images-idx3-ubyte"), rank: 3)
        let labelsPath = try locate(folder: folder, file: "\(split.filePrefix)-labels-idx1-ubyte")
        let labels = try IDXFile(path: labelsPath, rank: 1)
        let count = images.dimensions[0], rows = images.dimensions[1], columns = images.dimensions[2]
        guard labels.dimensions[0] == count else {
            throw DatasetError(path: labelsPath, reason: "holds \(labels.dimensions[0]) labels but the image file holds \(count) images")
        }
        var classes: [Int32] = []
        classes.reserveCapacity(count)
        for (index, label) in labels.bytes.enumerated() {
            guard label < 10 else { throw DatasetError(path: labelsPath, reason: "label \(label) at index \(index) is not a digit class 0–9") }
            classes.append(Int32(label))
        }
        var features = [Float](repeating: 0, count: images.bytes.count)
        features.withUnsafeMutableBufferPointer { destination in
            images.bytes.withUnsafeBufferPointer { source in
                for i in 0..<source.count { destination[i] = normalizedPixel(source[i]) }
            }
        }
        return LabeledDataset(name: "\(name)/\(split.rawValue)", sampleShape: [1, rows, columns],
                              features: features, labels: classes, classCount: 10)
    }

    /// The path of `file` or `file.gz` in `folder`, preferring the plain file.
    static func locate(folder: String, file: String) throws -> String {
        let plain = folder + "/" + file
        if fileExists(plain) { return plain }
        if fileExists(plain + ".gz") { return plain + ".gz" }
        throw DatasetError(path: plain + ".gz", reason: "no such file (nor \(file) without .gz)")
    }
}
