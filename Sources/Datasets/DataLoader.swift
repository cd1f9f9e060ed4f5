import Engine

/// One mini-batch, in tensors the loader reuses from batch to batch.
public struct Batch {
    /// The samples, [batch, sample shape…].
    public let inputs: Tensor
    /// The class index of each sample.
    public let labels: [Int32]
    /// The real targets, [batch, target size].
    public let targets: Tensor
    /// The number of samples.
    public var count: Int { labels.count }
}

/// Cuts a dataset into mini-batches in a seeded per-epoch order (or in order), gathering each batch
/// into reusable tensors so an epoch copies only the samples it serves.
public final class DataLoader {
    /// The dataset served.
    public let dataset: LabeledDataset
    /// Samples per batch; the last batch of an epoch may be smaller.
    public let batchSize: Int
    /// Whether each epoch visits the samples in a new seeded order.
    public let shuffle: Bool
    /// The seed of the per-epoch orders.
    public let seed: UInt64
    private let inputs = Tensor()
    private let targets = Tensor()
    private var labels: [Int32] = []

    /// Creates a loader; `shuffle` draws a new order each epoch from `seed` and the epoch number.
    public init(_ dataset: LabeledDataset, batchSize: Int, shuffle: Bool, seed: UInt64 = 0) {
        precondition(batchSize > 0, "batch size must be positive")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
    }

    /// The number of batches in an epoch.
    public var batchesPerEpoch: Int { (dataset.count + batchSize - 1) / batchSize }

    /// The order of the samples in `epoch` (1-based): a seeded permutation, the same on every machine.
    public static func order(count: Int, seed: UInt64, epoch: Int) -> [Int32] {
        var generator = SeededGenerator(seed: seed &+ 0x5EED &* UInt64(epoch))
        return generator.permutation(count)
    }

    /// The batches of one epoch (1-based), in the loader's order.
    public func epoch(_ epoch: Int) -> EpochBatches {
        let order = shuffle ? DataLoader.order(count: dataset.count, seed: seed, epoch: epoch) : nil
        return EpochBatches(loader: self, order: order)
    }

    /// Gathers the samples at the given positions of `order` (or the identity) into a batch.
    public func gather(_ positions: Range<Int>, order: [Int32]?) -> Batch {
        let size = dataset.sampleSize, targetSize = dataset.targetSize
        inputs.resize(to: [positions.count] + dataset.sampleShape)
        targets.resize(to: [positions.count, targetSize])
        labels.removeAll(keepingCapacity: true)
        for position in positions {
            labels.append(dataset.labels[order.map { Int($0[position]) } ?? position])
        }
        let inputData = inputs.data, targetData = targets.data, first = positions.lowerBound
        dataset.features.withUnsafeBufferPointer { features in
            dataset.targets.withUnsafeBufferPointer { allTargets in
                // Copying rows from all over a large set is bound by memory latency: spread it over the pool.
                ComputePool.shared.forEachRange(positions.count, minimumPerThread: max(1, 16384 / max(size, 1))) { rows in
                    for row in rows {
                        let index = order.map { Int($0[first + row]) } ?? first + row
                        (inputData + row * size).update(from: features.baseAddress! + index * size, count: size)
                        (targetData + row * targetSize).update(from: allTargets.baseAddress! + index * targetSize, count: targetSize)
                    }
                }
            }
        }
        return Batch(inputs: inputs, labels: labels, targets: targets)
    }
}

/// The batches of one epoch; iterating gathers each batch on demand.
public struct EpochBatches: Sequence, IteratorProtocol {
    let loader: DataLoader
    let order: [Int32]?
    private var position = 0

    init(loader: DataLoader, order: [Int32]?) {
        self.loader = loader
        self.order = order
    }

    public mutating func next() -> Batch? {
        let count = loader.dataset.count
        guard position < count else { return nil }
        let end = Swift.min(position + loader.batchSize, count)
        defer { position = end }
        return loader.gather(position..<end, order: order)
    }
}
