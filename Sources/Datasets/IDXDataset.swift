/// MNIST and Fashion-MNIST: IDX image and label files (gzip or plain) in one folder.
public enum IDXDataset {
    /// Which half of the set to load.
    public enum Split: String, Sendable {
        case train
        case test

        var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    /// The image size of MNIST and Fashion-MNIST, rows and columns, that the models built for them take.
    public static let standardImageSize = (rows: 28, columns: 28)

    /// Loads a split from `folder`, accepting `NAME` or `NAME.gz` for each file, normalised to [−1, 1];
    /// refuses a split without images, and with `imageSize` one whose images have another size.
    public static func load(folder: String, split: Split, name: String,
                            imageSize: (rows: Int, columns: Int)? = nil) throws -> LabeledDataset {
        let imagesPath = try locate(folder: folder, file: "\(split.filePrefix)-images-idx3-ubyte")
        let images = try IDXFile(path: imagesPath, rank: 3)
        let labelsPath = try locate(folder: folder, file: "\(split.filePrefix)-labels-idx1-ubyte")
        let labels = try IDXFile(path: labelsPath, rank: 1)
        let count = images.dimensions[0], rows = images.dimensions[1], columns = images.dimensions[2]
        guard labels.dimensions[0] == count else {
            throw DatasetError(path: labelsPath, reason: "holds \(labels.dimensions[0]) labels but the image file holds \(count) images")
        }
        guard count > 0 else { throw DatasetError(path: imagesPath, reason: "holds no images: nothing to \(split == .train ? "train on" : "test with")") }
        if let imageSize, (rows, columns) != imageSize {
            throw DatasetError(path: imagesPath, reason: "images are \(rows)×\(columns); \(name) and the models built for it take "
                               + "\(imageSize.rows)×\(imageSize.columns) (\(imageSize.rows * imageSize.columns) inputs)")
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
