import Foundation

/// Which optimiser the server runs.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    /// SGD with momentum.
    case sgd
    /// Adam.
    case adam
}

/// How the server combines gradients.
public enum TrainingMode: String, Codable, Sendable, CaseIterable {
    /// Each step waits for every worker's gradient and applies their sample-weighted mean.
    case sync
    /// Each gradient is applied as it arrives.
    case async
}

/// The training set-up the server sends a worker in welcome, as a JSON frame with snake_case keys.
public struct TrainingConfiguration: Codable, Sendable, Equatable {
    /// The model name, as `trainer train --model` takes it (for example "mlp").
    public var model: String
    /// The data-set name, as `trainer train --dataset` takes it (for example "mnist").
    public var dataset: String
    /// The optimiser the server applies.
    public var optimizer: OptimizerKind
    /// The learning rate.
    public var learningRate: Double
    /// The momentum (SGD only; ignored by Adam).
    public var momentum: Double
    /// The mini-batch size of each worker (the global batch is this times the world size).
    public var batchSizePerWorker: Int
    /// The number of epochs.
    public var epochs: Int
    /// The most epochs a configuration may ask for.
    public static let maximumEpochs = 1_000_000
    /// The seed of initialisation and of the per-epoch permutations.
    public var seed: UInt64
    /// Synchronous or asynchronous updates.
    public var mode: TrainingMode

    /// A configuration with every field given.
    public init(
        model: String, dataset: String, optimizer: OptimizerKind, learningRate: Double, momentum: Double,
        batchSizePerWorker: Int, epochs: Int, seed: UInt64, mode: TrainingMode
    ) {
        self.model = model
        self.dataset = dataset
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.momentum = momentum
        self.batchSizePerWorker = batchSizePerWorker
        self.epochs = epochs
        self.seed = seed
        self.mode = mode
    }

    enum CodingKeys: String, CodingKey {
        case model, dataset, optimizer
        case learningRate = "learning_rate"
        case momentum
        case batchSizePerWorker = "batch_size_per_worker"
        case epochs, seed, mode
    }

    /// The configuration as compact JSON with sorted keys.
    public func encodedJSON() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding these plain fields cannot fail.
        return (try? Array(encoder.encode(self))) ?? []
    }

    /// Decodes and range-checks a configuration from the JSON bytes of a welcome frame.
    public init(json bytes: [UInt8], limits: ProtocolLimits = .standard) throws(ProtocolError) {
        let frame = "configuration"
        self = try decodeJSON(TrainingConfiguration.self, from: bytes, frame: frame)
        try checkName(model, field: "configuration model")
        try checkName(dataset, field: "configuration dataset")
        guard learningRate.isFinite, learningRate > 0 else {
            throw .fieldOutOfRange(field: "configuration learning_rate", value: "\(learningRate)", allowed: "a finite number > 0")
        }
        guard momentum.isFinite, momentum >= 0, momentum < 1 else {
            throw .fieldOutOfRange(field: "configuration momentum", value: "\(momentum)", allowed: "0 ≤ momentum < 1")
        }
        guard (1...limits.maxSampleCount).contains(batchSizePerWorker) else {
            throw .fieldOutOfRange(field: "configuration batch_size_per_worker", value: "\(batchSizePerWorker)", allowed: "1…\(limits.maxSampleCount)")
        }
        guard (1...Self.maximumEpochs).contains(epochs) else {
            throw .fieldOutOfRange(field: "configuration epochs", value: "\(epochs)", allowed: "1…\(Self.maximumEpochs)")
        }
    }
}

/// Decodes `type` from JSON `bytes`, turning every failure into `ProtocolError.invalidJSON` naming `frame` and the key.
func decodeJSON<Value: Decodable>(_ type: Value.Type, from bytes: [UInt8], frame: String) throws(ProtocolError) -> Value {
    do {
        return try JSONDecoder().decode(type, from: Data(bytes))
    } catch let DecodingError.keyNotFound(key, _) {
        throw .invalidJSON(frame: frame, reason: "missing key \"\(key.stringValue)\"")
    } catch let DecodingError.typeMismatch(_, context) {
        throw .invalidJSON(frame: frame, reason: "wrong type at \(path(context))")
    } catch let DecodingError.valueNotFound(_, context) {
        throw .invalidJSON(frame: frame, reason: "null at \(path(context))")
    } catch let DecodingError.dataCorrupted(context) {
        throw .invalidJSON(frame: frame, reason: context.codingPath.isEmpty ? "not JSON" : "bad value at \(path(context))")
    } catch {
        throw .invalidJSON(frame: frame, reason: "not JSON")
    }
}

private func path(_ context: DecodingError.Context) -> String {
    let keys = context.codingPath.map(\.stringValue)
    return keys.isEmpty ? "the top level" : "\"\(keys.joined(separator: "."))\""
}

/// Checks that a name is 1…256 bytes of printable ASCII without spaces.
func checkName(_ name: String, field: String) throws(ProtocolError) {
    let bytes = Array(name.utf8)
    guard (1...256).contains(bytes.count), bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
        throw .fieldOutOfRange(field: field, value: "\"\(name.prefix(64))\"", allowed: "1…256 printable ASCII characters")
    }
}
