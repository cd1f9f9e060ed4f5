import Engine
import Foundation

/// What a parameter server needs to resume exactly where it was: the weights, the optimiser's
/// state, the step and the epoch's progress, with the configuration and data they belong to.
///
/// Stored as a safetensors file (tensors "weights" and "optimizer.<name>", the rest as JSON in the
/// metadata) written durably, so a crash at any moment leaves the previous state intact. The
/// per-epoch permutations follow from the seed and the epoch, so no generator state is needed.
public struct ServerState: Sendable, Equatable {
    /// The training set-up.
    public var configuration: TrainingConfiguration
    /// The data the workers must have.
    public var dataset: DatasetDescription
    /// The model fingerprint.
    public var fingerprint: UInt64
    /// The number of workers taking part when the state was written.
    public var worldSize: Int
    /// The next step to compute (the protocol's step number).
    public var step: Int
    /// The steps completed (fewer than `step` when steps were abandoned because the workers changed).
    public var completedSteps: Int
    /// The epoch of the next step, counted from 0.
    public var epoch: Int
    /// The position in that epoch's order where the next step starts.
    public var offset: Int
    /// The optimiser updates applied.
    public var updates: Int
    /// The optimiser's own step count.
    public var optimizerStepCount: Int
    /// The current epoch's pushes, sample-weighted loss sum, samples and updates so far.
    public var epochPushes: Int
    public var epochLossSum: Double
    public var epochSamples: Int
    public var epochUpdates: Int
    /// Async mode: each rank's next step (empty in sync mode).
    public var slotSteps: [Int]
    /// Async mode: the epochs not yet reported, with what has been applied of each.
    public var openEpochs: [EpochTally]
    /// The weights.
    public var weights: [Float]
    /// The optimiser's buffers by name.
    public var optimizerBuffers: [String: [Float]]

    /// The scalar fields, as they go into the file's metadata.
    private struct Header: Codable {
        var configuration: TrainingConfiguration
        var dataset: DatasetDescription
        var fingerprint: String
        var worldSize: Int
        var step: Int
        var completedSteps: Int
        var epoch: Int
        var offset: Int
        var updates: Int
        var optimizerStepCount: Int
        var epochPushes: Int
        var epochLossSum: Double
        var epochSamples: Int
        var epochUpdates: Int
        var slotSteps: [Int]?
        var openEpochs: [EpochTally]?
    }

    /// A state with every field given; the completed steps default to `step`.
    public init(configuration: TrainingConfiguration, dataset: DatasetDescription, fingerprint: UInt64, worldSize: Int,
                step: Int, completedSteps: Int? = nil, epoch: Int, offset: Int, updates: Int, optimizerStepCount: Int, epochPushes: Int, epochLossSum: Double, epochSamples: Int,
                epochUpdates: Int, slotSteps: [Int] = [], openEpochs: [EpochTally] = [], weights: [Float],
                optimizerBuffers: [String: [Float]]) {
        self.configuration = configuration
        self.dataset = dataset
        self.fingerprint = fingerprint
        self.worldSize = worldSize
        self.step = step
        self.completedSteps = completedSteps ?? step
        self.epoch = epoch
        self.offset = offset
        self.updates = updates
        self.optimizerStepCount = optimizerStepCount
        self.epochPushes = epochPushes
        self.epochLossSum = epochLossSum
        self.epochSamples = epochSamples
        self.epochUpdates = epochUpdates
        self.slotSteps = slotSteps
        self.openEpochs = openEpochs
        self.weights = weights
        self.optimizerBuffers = optimizerBuffers
    }

    /// Writes the state to `path` durably (temporary file, fsync, rename).
    public func write(to path: String) throws {
        let header = Header(configuration: configuration, dataset: dataset, fingerprint: String(fingerprint, radix: 16),
                            worldSize: worldSize, step: step, completedSteps: completedSteps, epoch: epoch, offset: offset,
                            updates: updates, optimizerStepCount: optimizerStepCount,
                            epochPushes: epochPushes, epochLossSum: epochLossSum, epochSamples: epochSamples,
                            epochUpdates: epochUpdates, slotSteps: slotSteps, openEpochs: openEpochs)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(header), as: UTF8.self)
        let names = optimizerBuffers.keys.sorted()
        let arrays = [weights] + names.map { optimizerBuffers[$0]! }
        try Self.withBuffers(arrays) { buffers in
            let tensors = zip(["weights"] + names.map { "optimizer.\($0)" }, buffers).map { name, values in
                (name: name, shape: [values.count], values: values)
            }
            try Safetensors.write(tensors, metadata: ["format": "actortrainer-server-state", "state": json], to: path)
        }
    }

    /// Reads a state written by `write(to:)`; throws `CheckpointError` naming the file and what is wrong.
    public init(contentsOf path: String) throws {
        let file = try Safetensors.read(from: path)
        func fail(_ reason: String) -> CheckpointError { CheckpointError(path: path, reason: reason) }
        guard file.metadata["format"] == "actortrainer-server-state", let json = file.metadata["state"] else {
            throw fail("not a server state file (write one with trainer server --state-file)")
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(json.utf8))
        } catch {
            throw fail("its state metadata is not valid: \(error)")
        }
        do {
            try header.configuration.check()
        } catch {
            throw fail("its training configuration is not valid: \(error)")
        }
                guard let fingerprint = UInt64(header.fingerprint, radix: 16) else { throw fail("its fingerprint is not valid") }
        guard let weights = file.tensors["weights"]?.values else { throw fail("it holds no weights") }
        var buffers: [String: [Float]] = [:]
        for name in file.order where name.hasPrefix("optimizer.") {
            buffers[String(name.dropFirst("optimizer.".count))] = file.tensors[name]!.values
        }
        let maxWorldSize = ProtocolLimits.standard.maxWorldSize
        guard (1...maxWorldSize).contains(header.worldSize) else {
            throw fail("its world size \(header.worldSize) is out of range (1…\(maxWorldSize) workers)")
        }
        guard header.step >= 0, header.updates >= 0, header.epochPushes >= 0, header.epochSamples >= 0,
              (0...header.step).contains(header.completedSteps), header.epoch >= 0,
              (0..<max(header.dataset.trainCount, 1)).contains(header.offset),
              (header.slotSteps ?? []).allSatisfy({ $0 >= 0 }), (header.slotSteps ?? []).count <= maxWorldSize,
              (header.openEpochs ?? []).allSatisfy({ $0.epoch >= 0 && $0.pushes >= 0 && $0.samples >= 0 }) else {
            throw fail("its counters are out of range")
        }
        self.init(configuration: header.configuration, dataset: header.dataset, fingerprint: fingerprint,
                  worldSize: header.worldSize, step: header.step, completedSteps: header.completedSteps, epoch: header.epoch,
                  offset: header.offset, updates: header.updates,
                  optimizerStepCount: header.optimizerStepCount, epochPushes: header.epochPushes,
                  epochLossSum: header.epochLossSum, epochSamples: header.epochSamples, epochUpdates: header.epochUpdates,
                  slotSteps: header.slotSteps ?? [], openEpochs: header.openEpochs ?? [],
                  weights: weights, optimizerBuffers: buffers)
    }

    /// Runs `body` with unsafe views of `arrays`.
    private static func withBuffers<R>(_ arrays: [[Float]], _ body: ([UnsafeBufferPointer<Float>]) throws -> R) rethrows -> R {
        func nest(_ index: Int, _ collected: [UnsafeBufferPointer<Float>]) throws -> R {
            guard index < arrays.count else { return try body(collected) }
            return try arrays[index].withUnsafeBufferPointer { try nest(index + 1, collected + [$0]) }
        }
        return try nest(0, [])
    }
}

/// What has been applied of one epoch that was not yet reported when a state was written.
public struct EpochTally: Sendable, Equatable, Codable {
    /// The epoch, counted from 0.
    public var epoch: Int
    public var pushes: Int
    public var lossSum: Double
    public var samples: Int
    public var updates: Int

    /// A tally with every field given.
    public init(epoch: Int, pushes: Int, lossSum: Double, samples: Int, updates: Int) {
        self.epoch = epoch
        self.pushes = pushes
        self.lossSum = lossSum
        self.samples = samples
        self.updates = updates
    }
}
