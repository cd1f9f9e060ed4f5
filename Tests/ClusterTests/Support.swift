import Cluster
import ZeroMQ

/// A float buffer that outlives zero-copy sends; written only before it is shared.
final class SharedFloats: @unchecked Sendable {
    let floats: UnsafeMutableBufferPointer<Float>

    /// `count` floats with varied bit patterns (NaN payloads, infinities, subnormals, signed zeros).
    init(count: Int, seed: UInt32 = 7) {
        floats = .allocate(capacity: count)
        for index in 0..<count {
            floats[index] = Float(bitPattern: (UInt32(truncatingIfNeeded: index) &+ seed) &* 2_654_435_761)
        }
    }

    deinit { floats.deallocate() }

    /// The values as a zero-copy payload.
    var payload: FloatPayload { .borrowed(UnsafeBufferPointer(floats), owner: self) }
}

/// A deterministic generator (SplitMix64) for reproducible fuzzing.
struct SplitMix: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Fixtures {
    static let fingerprint: UInt64 = 0xDEAD_BEEF_0123_4567
    static let parameterCount = 12

    static let configuration = TrainingConfiguration(
        model: "mlp", dataset: "mnist", optimizer: .sgd(learningRate: 0.01, momentum: 0.9),
        batchSizePerWorker: 32, epochs: 1, seed: 42, mode: .sync
    )

    static func floats(_ count: Int = parameterCount, offset: Float = 0) -> [Float] {
        (0..<count).map { Float($0) * 0.25 - 1 + offset }
    }

    /// One valid message of every type.
    static var everyMessage: [WireMessage] {
        let server = MessageHeader.serverSender
        return [
            WireMessage(sender: MessageHeader.unassignedSender, body: .join(DatasetDescription(name: "mnist", trainCount: 60_000, testCount: 10_000, checksum: "0123456789abcdef"))),
            WireMessage(sender: server, step: 0, fingerprint: fingerprint, body: .welcome(Welcome(
                rank: 1, worldSize: 2, configuration: configuration, weights: .array(floats())))),
            WireMessage(sender: 1, step: 17, fingerprint: fingerprint, body: .pushGradient(GradientPush(
                sampleCount: 32, meanLoss: 2.3025, gradient: .array(floats(offset: 0.5))))),
            WireMessage(sender: 0, step: 938, fingerprint: fingerprint, body: .pushGradient(GradientPush(
                sampleCount: 0, meanLoss: 0, isEndOfEpoch: true, gradient: .array([])))),
            WireMessage(sender: server, step: 18, fingerprint: fingerprint, body: .weights(.array(floats(offset: 3)))),
            WireMessage(sender: server, step: 938, fingerprint: fingerprint, body: .epochEnd(epoch: 1)),
            WireMessage(sender: server, step: 938, fingerprint: fingerprint, body: .evaluationRequest),
            WireMessage(sender: 1, step: 938, fingerprint: fingerprint, body: .evaluationResult(EvaluationResult(meanLoss: 0.31, correct: 4_600, count: 5_000))),
            WireMessage(sender: server, step: 938, fingerprint: fingerprint, body: .stop),
            WireMessage(sender: server, body: .error(reason: "protocol version 2 is not supported — bitte 1")),
            WireMessage(sender: 0, step: 5, fingerprint: fingerprint, body: .heartbeat),
            WireMessage(sender: MessageHeader.unassignedSender, body: .hello),
            WireMessage(sender: server, fingerprint: fingerprint, body: .setup(Setup(
                configuration: configuration,
                dataset: DatasetDescription(name: "mnist", trainCount: 60_000, testCount: 10_000, checksum: "fedcba9876543210")))),
            WireMessage(sender: 1, step: 19, fingerprint: fingerprint, body: .pushGradient(GradientPush(
                sampleCount: 32, meanLoss: 1.5, gradient: .array([]), encodedGradient: .bytes(BFloat16Codec().encode(floats(offset: 0.5)))))),
            WireMessage(sender: server, step: 20, fingerprint: fingerprint, body: .weightsDelta(.bytes(TopKCodec(fraction: 0.25).encode(floats())))),
            WireMessage(sender: 1, step: 21, fingerprint: fingerprint, body: .gradientPart(GradientPart(offset: 4, values: .array(floats(8, offset: 2))))),
            WireMessage(sender: 1, step: 21, fingerprint: fingerprint, body: .pushGradient(GradientPush(
                sampleCount: 32, meanLoss: 1.25, gradient: .array(floats(4)), restSentInParts: true))),
            WireMessage(sender: MessageHeader.unassignedSender, step: 40, body: .shardJoin(ShardJoin(
                rank: 3, slot: 1, epoch: 2, offset: 1_280, dataset: DatasetDescription(name: "mnist", trainCount: 60_000, testCount: 10_000, checksum: "0123456789abcdef")))),
            WireMessage(sender: server, step: 40, fingerprint: fingerprint, body: .shardWeights(ShardWeights(
                shard: 1, epoch: 3, values: .array(floats(6, offset: 1))))),
        ]
    }

    /// Decodes byte frames with the fixtures' fingerprint and parameter count.
    static func decode(_ frames: [[UInt8]], parameterCount: Int? = parameterCount) throws(ProtocolError) -> WireMessage {
        try WireMessage.decode(bytes: frames, expectedFingerprint: fingerprint, parameterCount: parameterCount)
    }

    /// The error decoding `frames` throws, or nil if it decodes.
    static func error(decoding frames: [[UInt8]], parameterCount: Int? = parameterCount) -> ProtocolError? {
        do {
            _ = try decode(frames, parameterCount: parameterCount)
            return nil
        } catch {
            return error
        }
    }
}

/// Writes a little-endian integer into `bytes` at `offset`.
func poke<Value: FixedWidthInteger>(_ value: Value, into bytes: inout [UInt8], at offset: Int) {
    withUnsafeBytes(of: value.littleEndian) { raw in
        for (index, byte) in raw.enumerated() { bytes[offset + index] = byte }
    }
}

/// Runs every worker to its end at once and returns how many pushes each made (in the order they finished).
func pushCounts(running workers: [Worker]) async throws -> [Int] {
    try await withThrowingTaskGroup(of: Int.self) { group in
        for worker in workers { group.addTask { try await worker.run().pushes } }
        return try await group.reduce(into: [Int]()) { $0.append($1) }
    }
}
