import Engine
import Foundation

/// How the server combines gradients.
public enum TrainingMode: String, Codable, Sendable, CaseIterable {
    /// Each step waits for every worker's gradient and applies their sample-weighted mean.
    case sync
    /// Each gradient is applied as it arrives.
    case async
    /// Stale synchronous parallel: each gradient is applied as it arrives, and no worker gets weights
    /// while it is more than `staleness` steps ahead of the slowest.
    case ssp
    /// Local SGD (DiLoCo): each worker takes `syncEvery` steps of the inner optimiser on its own
    /// replica, then pushes its weights' change; the server averages the changes and applies the
    /// outer optimiser.
    case localSGD = "local-sgd"
}

/// The training set-up the server sends a worker in welcome, as a JSON frame with snake_case keys.
public struct TrainingConfiguration: Codable, Sendable, Equatable {
    /// The model name, as `trainer train --model` takes it (for example "mlp").
    public var model: String
    /// The data-set name, as `trainer train --dataset` takes it (for example "mnist").
    public var dataset: String
    /// The optimiser the server applies, with all of its hyper-parameters.
    public var optimizer: OptimizerSettings
    /// The mini-batch size of each worker (the global batch is this times the world size).
    public var batchSizePerWorker: Int
    /// The number of epochs.
    public var epochs: Int
    /// The most epochs a configuration may ask for.
    public static let maximumEpochs = 1_000_000
    /// The seed of initialisation and of the per-epoch permutations.
    public var seed: UInt64
    /// Synchronous, asynchronous or bounded-staleness updates.
    public var mode: TrainingMode
    /// SSP mode: the most steps a worker may be ahead of the slowest (nil in the other modes).
    public var staleness: Int?
    /// The largest staleness bound a configuration may ask for.
    public static let maximumStaleness = 1_000_000
    /// How each push's vector (worker → server) is written; `none` sends float32 as protocol version 3 did.
    public var compress: CodecChoice = .none
    /// How weights (server → worker) are written between epoch ends: `none` sends whole float32
    /// weights every step; another codec sends weight deltas against a replica the server mirrors.
    public var compressWeights: CodecChoice = .none
    /// Whether workers send each layer's gradient as backward produces it (gradient-part messages, last
    /// layer first), so the transfer overlaps the rest of backward; float32 pushes only, not in local-SGD mode.
    public var overlapPushes = false
    /// The addresses workers reach the server shards at, shard 0 first, when the parameters are split
    /// over several server processes (empty: one server holds them all). Shard `i` owns
    /// `ShardLayout.range(of: i, ...)` of the flat parameters.
    public var shards: [String] = []
    /// The most server shards a configuration may name.
    public static let maximumShards = 64
    /// Local-SGD mode: the optimiser steps each worker takes on its replica between pushes (nil in the other modes).
    public var syncEvery: Int?
    /// The most local steps a configuration may ask for between pushes.
    public static let maximumSyncEvery = 1_000_000
    /// Local-SGD mode: the optimiser the server applies to the averaged weight changes (nil in the other modes).
    public var outerOptimizer: OptimizerSettings?
    /// The outer optimiser of DiLoCo (Douillard et al. 2023): SGD, lr 0.7, Nesterov momentum 0.9.
    public static let defaultOuterOptimizer = OptimizerSettings.sgd(learningRate: 0.7, momentum: 0.9, nesterov: true)

    /// A configuration with every field given; `staleness` only in SSP mode, `syncEvery` and
    /// `outerOptimizer` only in local-SGD mode.
    public init(
        model: String, dataset: String, optimizer: OptimizerSettings,
        batchSizePerWorker: Int, epochs: Int, seed: UInt64, mode: TrainingMode, staleness: Int? = nil,
        syncEvery: Int? = nil, outerOptimizer: OptimizerSettings? = nil
    ) {
        precondition((mode == .ssp) == (staleness != nil), "SSP mode, and only SSP mode, has a staleness bound")
        precondition((mode == .localSGD) == (syncEvery != nil) && (mode == .localSGD) == (outerOptimizer != nil),
                     "local-SGD mode, and only local-SGD mode, has a round length and an outer optimiser")
        self.syncEvery = syncEvery
        self.outerOptimizer = outerOptimizer
        self.model = model
        self.dataset = dataset
        self.optimizer = optimizer
        self.batchSizePerWorker = batchSizePerWorker
        self.epochs = epochs
        self.seed = seed
        self.mode = mode
        self.staleness = staleness
    }

    enum CodingKeys: String, CodingKey {
        case model, dataset, optimizer
        case batchSizePerWorker = "batch_size_per_worker"
        case epochs, seed, mode, staleness
        case compress
        case compressWeights = "compress_weights"
        case overlapPushes = "overlap_pushes"
        case shards
        case syncEvery = "sync_every"
        case outerOptimizer = "outer_optimizer"
        /// Protocol version 2 and its state files: the optimiser's name, learning rate and momentum.
        case learningRate = "learning_rate"
        case momentum
    }

    /// Decodes a configuration; a state file of protocol version 2 names the optimiser and gives its
    /// learning rate and momentum beside it.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try container.decode(String.self, forKey: .model)
        dataset = try container.decode(String.self, forKey: .dataset)
        if let name = try? container.decode(String.self, forKey: .optimizer) {
            guard let kind = OptimizerKind(rawValue: name) else {
                throw DecodingError.dataCorruptedError(forKey: .optimizer, in: container, debugDescription: "unknown optimizer \(name)")
            }
            let learningRate = try container.decode(Double.self, forKey: .learningRate)
            let momentum = try container.decode(Double.self, forKey: .momentum)
            optimizer = OptimizerSettings(kind: kind, learningRate: Float(learningRate), momentum: kind == .sgd ? Float(momentum) : 0)
        } else {
            optimizer = try container.decode(OptimizerSettings.self, forKey: .optimizer)
        }
        batchSizePerWorker = try container.decode(Int.self, forKey: .batchSizePerWorker)
        epochs = try container.decode(Int.self, forKey: .epochs)
        seed = try container.decode(UInt64.self, forKey: .seed)
        mode = try container.decode(TrainingMode.self, forKey: .mode)
        staleness = try container.decodeIfPresent(Int.self, forKey: .staleness)
        // Absent before protocol version 4: nothing was compressed.
        compress = try container.decodeIfPresent(CodecChoice.self, forKey: .compress) ?? .none
        compressWeights = try container.decodeIfPresent(CodecChoice.self, forKey: .compressWeights) ?? .none
        // Absent unless true: a worker that does not know the key sends its pushes whole, as before.
        overlapPushes = try container.decodeIfPresent(Bool.self, forKey: .overlapPushes) ?? false
        // Absent before protocol version 5, and with one server.
        shards = try container.decodeIfPresent([String].self, forKey: .shards) ?? []
        syncEvery = try container.decodeIfPresent(Int.self, forKey: .syncEvery)
        outerOptimizer = try container.decodeIfPresent(OptimizerSettings.self, forKey: .outerOptimizer)
    }

    /// Encodes the configuration as protocol version 4 has it (a codec only when it is not `none`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(dataset, forKey: .dataset)
        try container.encode(optimizer, forKey: .optimizer)
        try container.encode(batchSizePerWorker, forKey: .batchSizePerWorker)
        try container.encode(epochs, forKey: .epochs)
        try container.encode(seed, forKey: .seed)
        try container.encode(mode, forKey: .mode)
        try container.encodeIfPresent(staleness, forKey: .staleness)
        if compress != .none { try container.encode(compress, forKey: .compress) }
        if compressWeights != .none { try container.encode(compressWeights, forKey: .compressWeights) }
        if overlapPushes { try container.encode(true, forKey: .overlapPushes) }
        if !shards.isEmpty { try container.encode(shards, forKey: .shards) }
        try container.encodeIfPresent(syncEvery, forKey: .syncEvery)
        try container.encodeIfPresent(outerOptimizer, forKey: .outerOptimizer)
    }

    /// Why pushes cannot be sent in parts in `mode` with the push codec `compress` (nil: they can).
    public static func overlapProblem(mode: TrainingMode, compress: CodecChoice) -> String? {
        if mode == .localSGD { return "in local-sgd mode (a worker pushes its weights' change after a round, not a gradient after backward)" }
        if compress != .none { return "with the push codec \(compress) (a codec writes the whole vector at once)" }
        return nil
    }

    /// Why the parameters cannot be split over server shards in `mode`, with overlapping pushes when
    /// `overlap` (nil: they can).
    public static func shardProblem(mode: TrainingMode, overlap: Bool) -> String? {
        if mode == .localSGD { return "in local-sgd mode (not supported with shards yet)" }
        if overlap { return "with --overlap (gradient parts are not split by shard yet)" }
        return nil
    }

    /// The number of server shards the parameters are split over (1: one server).
    public var shardCount: Int { max(1, shards.count) }

    /// The optimiser the server applies: the outer one in local-SGD mode, else `optimizer`.
    public var serverOptimizer: OptimizerSettings { outerOptimizer ?? optimizer }

    /// The configuration as compact JSON with sorted keys.
    public func encodedJSON() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding these plain fields cannot fail.
        return (try? Array(encoder.encode(self))) ?? []
    }

    /// Decodes and range-checks a configuration from the JSON bytes of a welcome frame.
    public init(json bytes: [UInt8], limits: ProtocolLimits = .standard) throws(ProtocolError) {
        self = try decodeJSON(TrainingConfiguration.self, from: bytes, frame: "configuration")
        try check(limits: limits)
    }

    /// Throws unless every field is in its range (a configuration from a peer or a file).
    public func check(limits: ProtocolLimits = .standard) throws(ProtocolError) {
        try checkName(model, field: "configuration model")
        try checkName(dataset, field: "configuration dataset")
        if let problem = optimizer.problem {
            throw .fieldOutOfRange(field: "configuration optimizer", value: optimizer.kind.rawValue, allowed: "settings that hold: \(problem)")
        }
        guard (1...limits.maxSampleCount).contains(batchSizePerWorker) else {
            throw .fieldOutOfRange(field: "configuration batch_size_per_worker", value: "\(batchSizePerWorker)", allowed: "1…\(limits.maxSampleCount)")
        }
        guard (1...Self.maximumEpochs).contains(epochs) else {
            throw .fieldOutOfRange(field: "configuration epochs", value: "\(epochs)", allowed: "1…\(Self.maximumEpochs)")
        }
        switch (mode, staleness) {
        case (.ssp, let bound?) where (0...Self.maximumStaleness).contains(bound):
            break
        case (.sync, nil), (.async, nil), (.localSGD, nil):
            break
        case (.ssp, _):
            throw .fieldOutOfRange(field: "configuration staleness", value: staleness.map { "\($0)" } ?? "none",
                                   allowed: "0…\(Self.maximumStaleness) in ssp mode")
        case (_, let bound?):
            throw .fieldOutOfRange(field: "configuration staleness", value: "\(bound)", allowed: "none in \(mode.rawValue) mode")
        }
        if overlapPushes, let reason = Self.overlapProblem(mode: mode, compress: compress) {
            throw .fieldOutOfRange(field: "configuration overlap_pushes", value: "true", allowed: "false \(reason)")
        }
        if !shards.isEmpty {
            guard (2...Self.maximumShards).contains(shards.count) else {
                throw .fieldOutOfRange(field: "configuration shards", value: "\(shards.count) addresses", allowed: "2…\(Self.maximumShards)")
            }
            for address in shards { try checkName(address, field: "configuration shards") }
            if let reason = Self.shardProblem(mode: mode, overlap: overlapPushes) {
                throw .fieldOutOfRange(field: "configuration shards", value: "\(shards.count) addresses", allowed: "one server \(reason)")
            }
        }
        switch (mode, syncEvery, outerOptimizer) {
        case (.localSGD, let steps?, let outer?) where (1...Self.maximumSyncEvery).contains(steps):
            if let problem = outer.problem {
                throw .fieldOutOfRange(field: "configuration outer_optimizer", value: outer.kind.rawValue,
                                       allowed: "settings that hold: \(problem)")
            }
        case (.localSGD, _, nil):
            throw .fieldOutOfRange(field: "configuration outer_optimizer", value: "none", allowed: "settings in local-sgd mode")
        case (.localSGD, _, _):
            throw .fieldOutOfRange(field: "configuration sync_every", value: syncEvery.map { "\($0)" } ?? "none",
                                   allowed: "1…\(Self.maximumSyncEvery) in local-sgd mode")
        case (_, nil, nil):
            break
        case (_, let steps?, _):
            throw .fieldOutOfRange(field: "configuration sync_every", value: "\(steps)", allowed: "none in \(mode.rawValue) mode")
        case (_, nil, _?):
            throw .fieldOutOfRange(field: "configuration outer_optimizer", value: "given", allowed: "none in \(mode.rawValue) mode")
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
