/// Samples with class labels (and, for regression, real targets) held in memory as contiguous floats.
public struct LabeledDataset: Sendable {
    /// A short name for logs, for example `mnist/train`.
    public var name: String
    /// The shape of one sample, for example [1, 28, 28].
    public var sampleShape: [Int]
    /// All samples, each `sampleSize` floats, one after another.
    public var features: [Float]
    /// One class index per sample (0 for regression sets).
    public var labels: [Int32]
    /// The number of classes (0 for regression).
    public var classCount: Int
    /// The real-valued targets, `targetSize` per sample (for regression; labels as floats otherwise).
    public var targets: [Float]
    /// The number of real targets per sample.
    public var targetSize: Int

    /// Creates a classification set; targets are the labels as floats.
    public init(name: String, sampleShape: [Int], features: [Float], labels: [Int32], classCount: Int) {
        precondition(features.count == labels.count * sampleShape.reduce(1, *), "features and labels disagree in count")
        self.name = name
        self.sampleShape = sampleShape
        self.features = features
        self.labels = labels
        self.classCount = classCount
        self.targets = labels.map(Float.init)
        self.targetSize = 1
    }

    /// Creates a regression set with `targetSize` real targets per sample.
    public init(name: String, sampleShape: [Int], features: [Float], targets: [Float], targetSize: Int) {
        let count = targets.count / max(targetSize, 1)
        precondition(features.count == count * sampleShape.reduce(1, *), "features and targets disagree in count")
        self.name = name
        self.sampleShape = sampleShape
        self.features = features
        self.labels = [Int32](repeating: 0, count: count)
        self.classCount = 0
        self.targets = targets
        self.targetSize = targetSize
    }

    /// The number of samples.
    public var count: Int { labels.count }
    /// The number of floats per sample.
    public var sampleSize: Int { sampleShape.reduce(1, *) }
}

/// Maps a pixel byte to [−1, 1]: (x/255 − 0.5)/0.5, torchvision's `ToTensor` then `Normalize(0.5, 0.5)`.
@inline(__always) public func normalizedPixel(_ byte: UInt8) -> Float {
    (Float(byte) / 255 - 0.5) / 0.5
}
