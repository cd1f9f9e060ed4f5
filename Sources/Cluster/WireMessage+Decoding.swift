import Transport

/// A frame the decoder can read: a received frame, or plain bytes.
protocol PayloadFrame {
    /// The frame's size in bytes.
    var byteCount: Int { get }
    /// A copy of the bytes (called only after the size has been checked).
    func copyBytes() -> [UInt8]
    /// The frame as floats (called only after the size has been checked).
    func floatPayload() -> FloatPayload
    /// The frame as a codec's bytes (called only after the size has been checked).
    func encodedVector() -> EncodedVector
}

/// A frame a transport delivered.
private struct Received: PayloadFrame {
    let frame: any IncomingFrame
    var byteCount: Int { frame.count }
    func copyBytes() -> [UInt8] { frame.bytes }
    func floatPayload() -> FloatPayload { .received(frame) }
    func encodedVector() -> EncodedVector { .received(frame) }
}

extension Array: PayloadFrame where Element == UInt8 {
    var byteCount: Int { count }
    func copyBytes() -> [UInt8] { self }
    func floatPayload() -> FloatPayload {
        let floats = withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: raw.loadLittleEndian(fromByteOffset: $0 * 4, as: UInt32.self)) }
        }
        return .array(floats)
    }
    func encodedVector() -> EncodedVector { .bytes(self) }
}

extension WireMessage {
    /// Validates and decodes the frames of a message received on a DEALER (header first).
    ///
    /// Pass the receiver's model fingerprint and parameter count when known (a worker before
    /// welcome knows neither); every size, count and value is checked before any payload is copied.
    public static func decode(
        frames: [any IncomingFrame], expectedFingerprint: UInt64?, parameterCount: Int?, limits: ProtocolLimits = .standard
    ) throws(ProtocolError) -> WireMessage {
        try decode(frames.map(Received.init)[...], expectedFingerprint: expectedFingerprint, parameterCount: parameterCount, limits: limits)
    }

    /// Validates and decodes a message received on a ROUTER: the peer's identity frame, then the message.
    public static func decodeRouted(
        frames: [any IncomingFrame], expectedFingerprint: UInt64?, parameterCount: Int?, limits: ProtocolLimits = .standard
    ) throws(ProtocolError) -> (identity: [UInt8], message: WireMessage) {
        guard let identity = frames.first else { throw .missingHeader }
        guard (1...255).contains(identity.count) else { throw .badIdentity(bytes: identity.count) }
        let message = try decode(frames.dropFirst().map(Received.init)[...], expectedFingerprint: expectedFingerprint, parameterCount: parameterCount, limits: limits)
        return (identity.bytes, message)
    }

    /// Validates and decodes a message given as the bytes of its frames (header first).
    public static func decode(
        bytes frames: [[UInt8]], expectedFingerprint: UInt64?, parameterCount: Int?, limits: ProtocolLimits = .standard
    ) throws(ProtocolError) -> WireMessage {
        try decode(frames[...], expectedFingerprint: expectedFingerprint, parameterCount: parameterCount, limits: limits)
    }

    static func decode<Source: PayloadFrame>(
        _ frames: ArraySlice<Source>, expectedFingerprint: UInt64?, parameterCount: Int?, limits: ProtocolLimits
    ) throws(ProtocolError) -> WireMessage {
        guard let first = frames.first else { throw .missingHeader }
        guard first.byteCount == MessageHeader.size else { throw .headerSize(first.byteCount) }
        let header = try MessageHeader(decoding: first.copyBytes())
        let type = header.type
        try checkEnvelope(header, expectedFingerprint: expectedFingerprint, limits: limits)

        let payload = Array(frames.dropFirst())
        let expectedFrames = payloadFrameCount(type)
        guard payload.count == expectedFrames else {
            throw .frameCount(type, received: payload.count, expected: expectedFrames)
        }
        let maximum = parameterCount.map { ProtocolLimits.maximumPayloadBytes(parameterCount: $0) } ?? ProtocolLimits.maximumPayloadBytes
        guard header.payloadLength <= UInt64(maximum) else { throw .payloadTooLarge(bytes: header.payloadLength, limit: maximum) }
        let actual = payload.reduce(0) { $0 + $1.byteCount }
        guard actual <= maximum else { throw .payloadTooLarge(bytes: UInt64(actual), limit: maximum) }
        guard UInt64(actual) == header.payloadLength else {
            throw .payloadLengthMismatch(declared: header.payloadLength, actual: actual)
        }

        let body = try decodeBody(header, payload, parameterCount: parameterCount, limits: limits)
        return WireMessage(sender: header.sender, step: header.step, fingerprint: header.fingerprint, body: body)
    }

    /// Checks flags, sender, fingerprint and step against the type.
    private static func checkEnvelope(_ header: MessageHeader, expectedFingerprint: UInt64?, limits: ProtocolLimits) throws(ProtocolError) {
        let type = header.type
        let allowedFlags: MessageFlags = type == .pushGradient ? .all : []
        guard allowedFlags.isSuperset(of: header.flags) else {
            throw .unexpectedFlags(type, flags: header.flags.rawValue)
        }

        let sender = header.sender
        let isRank = sender < UInt32(clamping: limits.maxWorldSize)
        let senderAllowed = switch type {
        case .hello, .join, .shardJoin: sender == MessageHeader.unassignedSender
        case .setup, .welcome, .weights, .weightsDelta, .evaluationRequest, .stop, .shardWeights: sender == MessageHeader.serverSender
        case .pushGradient, .gradientPart, .evaluationResult: isRank
        case .epochEnd, .error, .heartbeat:
            isRank || sender == MessageHeader.serverSender || sender == MessageHeader.unassignedSender
        }
        guard senderAllowed else { throw .unexpectedSender(type, sender: sender) }

        switch type {
        case .hello, .join, .shardJoin:
            // A joining worker does not know the model yet.
            guard header.fingerprint == 0 else { throw .fingerprintMismatch(received: header.fingerprint, expected: 0) }
        case .error:
            // A refusal may precede any model (for example a version mismatch at join).
            break
        default:
            if let expectedFingerprint, header.fingerprint != expectedFingerprint {
                throw .fingerprintMismatch(received: header.fingerprint, expected: expectedFingerprint)
            }
        }

        guard header.step <= limits.maxStep else { throw .stepOutOfRange(header.step, limit: limits.maxStep) }
    }

    /// The number of frames after the header that `type` carries.
    static func payloadFrameCount(_ type: MessageType) -> Int {
        switch type {
        case .welcome: 3
        case .pushGradient, .gradientPart, .setup, .shardJoin, .shardWeights: 2
        case .join, .weights, .weightsDelta, .epochEnd, .evaluationResult, .error: 1
        case .hello, .evaluationRequest, .stop, .heartbeat: 0
        }
    }

    private static func decodeBody<Source: PayloadFrame>(
        _ header: MessageHeader, _ payload: [Source], parameterCount: Int?, limits: ProtocolLimits
    ) throws(ProtocolError) -> MessageBody {
        switch header.type {
        case .join:
            let json = try bytes(of: payload[0], frame: "data-set description", allowed: 2...ProtocolLimits.maximumJSONBytes)
            return .join(try DatasetDescription(json: json, limits: limits))

        case .shardJoin:
            let place = try bytes(of: payload[0], frame: "place", allowed: 20...20)
            let (rank, slot, epoch, offset) = place.withUnsafeBytes {
                ($0.loadLittleEndian(fromByteOffset: 0, as: UInt32.self), $0.loadLittleEndian(fromByteOffset: 4, as: UInt32.self),
                 $0.loadLittleEndian(fromByteOffset: 8, as: UInt32.self), $0.loadLittleEndian(fromByteOffset: 12, as: UInt64.self))
            }
            guard epoch < TrainingConfiguration.maximumEpochs else {
                throw .fieldOutOfRange(field: "epoch", value: "\(epoch)", allowed: "0…\(TrainingConfiguration.maximumEpochs - 1)")
            }
            let offsetValue = try checkSampleCount(offset, field: "epoch offset", limits: limits)
            guard rank < limits.maxWorldSize else {
                throw .fieldOutOfRange(field: "rank", value: "\(rank)", allowed: "0…\(limits.maxWorldSize - 1)")
            }
            guard slot < limits.maxWorldSize else {
                throw .fieldOutOfRange(field: "slot", value: "\(slot)", allowed: "0…\(limits.maxWorldSize - 1)")
            }
            let json = try bytes(of: payload[1], frame: "data-set description", allowed: 2...ProtocolLimits.maximumJSONBytes)
            return .shardJoin(ShardJoin(rank: Int(rank), slot: Int(slot), epoch: Int(epoch), offset: offsetValue,
                                        dataset: try DatasetDescription(json: json, limits: limits)))

        case .shardWeights:
            let place = try bytes(of: payload[0], frame: "shard and epoch", allowed: 8...8)
            let (shard, epoch) = place.withUnsafeBytes {
                ($0.loadLittleEndian(fromByteOffset: 0, as: UInt32.self), $0.loadLittleEndian(fromByteOffset: 4, as: UInt32.self))
            }
            guard (1..<UInt32(TrainingConfiguration.maximumShards)).contains(shard) else {
                throw .fieldOutOfRange(field: "shard", value: "\(shard)", allowed: "1…\(TrainingConfiguration.maximumShards - 1)")
            }
            guard (1...UInt32(TrainingConfiguration.maximumEpochs)).contains(epoch) else {
                throw .fieldOutOfRange(field: "epoch", value: "\(epoch)", allowed: "1…\(TrainingConfiguration.maximumEpochs)")
            }
            // Another shard's range: its length is checked against the layout by the receiver.
            let values = try floats(of: payload[1], frame: "shard weights", parameterCount: nil)
            if let parameterCount, values.count > parameterCount {
                throw .floatFrameSize(frame: "shard weights", bytes: payload[1].byteCount, expectedFloats: nil)
            }
            return .shardWeights(ShardWeights(shard: Int(shard), epoch: Int(epoch), values: values))

        case .hello:
            return .hello

        case .setup:
            let configuration = try bytes(of: payload[0], frame: "configuration", allowed: 2...ProtocolLimits.maximumJSONBytes)
            let dataset = try bytes(of: payload[1], frame: "data-set description", allowed: 2...ProtocolLimits.maximumJSONBytes)
            return .setup(Setup(configuration: try TrainingConfiguration(json: configuration, limits: limits),
                                dataset: try DatasetDescription(json: dataset, limits: limits)))

        case .welcome:
            let assignment = try bytes(of: payload[0], frame: "assignment", allowed: 24...24)
            let (rank, slot, worldSize, epoch, offset) = assignment.withUnsafeBytes {
                ($0.loadLittleEndian(fromByteOffset: 0, as: UInt32.self), $0.loadLittleEndian(fromByteOffset: 4, as: UInt32.self),
                 $0.loadLittleEndian(fromByteOffset: 8, as: UInt32.self), $0.loadLittleEndian(fromByteOffset: 12, as: UInt32.self),
                 $0.loadLittleEndian(fromByteOffset: 16, as: UInt64.self))
            }
            guard worldSize >= 1, worldSize <= limits.maxWorldSize else {
                throw .fieldOutOfRange(field: "world size", value: "\(worldSize)", allowed: "1…\(limits.maxWorldSize)")
            }
            guard rank < limits.maxWorldSize else {
                throw .fieldOutOfRange(field: "rank", value: "\(rank)", allowed: "0…\(limits.maxWorldSize - 1)")
            }
            guard slot < worldSize else {
                throw .fieldOutOfRange(field: "slot", value: "\(slot)", allowed: "0…\(worldSize - 1)")
            }
            guard epoch < TrainingConfiguration.maximumEpochs else {
                throw .fieldOutOfRange(field: "epoch", value: "\(epoch)", allowed: "0…\(TrainingConfiguration.maximumEpochs - 1)")
            }
            let offsetValue = try checkSampleCount(offset, field: "epoch offset", limits: limits)
            let json = try bytes(of: payload[1], frame: "configuration", allowed: 2...ProtocolLimits.maximumJSONBytes)
            let configuration = try TrainingConfiguration(json: json, limits: limits)
            let weights = try floats(of: payload[2], frame: "weights", parameterCount: parameterCount)
            return .welcome(Welcome(rank: Int(rank), slot: Int(slot), worldSize: Int(worldSize), epoch: Int(epoch), offset: offsetValue,
                                    configuration: configuration, weights: weights))

        case .pushGradient:
            let statistics = try bytes(of: payload[0], frame: "gradient statistics", allowed: 16...16)
            let (sampleCount, meanLoss) = statistics.withUnsafeBytes {
                ($0.loadLittleEndian(fromByteOffset: 0, as: UInt64.self), $0.loadLittleEndianDouble(fromByteOffset: 8))
            }
            let sampleCountValue = try checkSampleCount(sampleCount, field: "gradient sample count", limits: limits)
            // A NaN or infinite loss is well-formed: the server rejects such a push (and its gradient) itself.
            var gradient = FloatPayload.array([]), encoded: EncodedVector?
            let partsSent = header.flags.contains(.partsSent)
            if partsSent {
                // The first values only: at least one, and at least one left for the parts.
                guard sampleCountValue > 0, !header.flags.contains(.encoded) else {
                    throw .unexpectedFlags(header.type, flags: header.flags.rawValue)
                }
                gradient = try leadingFloats(of: payload[1], frame: "gradient (first values)", parameterCount: parameterCount)
            } else if sampleCountValue == 0 && payload[1].byteCount == 0 {
                // No samples, no vector, whatever the codec.
            } else if header.flags.contains(.encoded) {
                encoded = try encodedVector(of: payload[1], frame: "encoded gradient", parameterCount: parameterCount)
            } else {
                gradient = try floats(of: payload[1], frame: "gradient", parameterCount: parameterCount)
            }
            return .pushGradient(GradientPush(
                sampleCount: sampleCountValue, meanLoss: meanLoss,
                isEndOfEpoch: header.flags.contains(.endOfEpoch), gradient: gradient, encodedGradient: encoded,
                restSentInParts: partsSent
            ))

        case .gradientPart:
            let frame = try bytes(of: payload[0], frame: "part offset", allowed: 8...8)
            let offset = frame.withUnsafeBytes { $0.loadLittleEndian(fromByteOffset: 0, as: UInt64.self) }
            let values = try leadingFloats(of: payload[1], frame: "gradient part", parameterCount: parameterCount)
            // The part ends within the gradient, and the push-gradient keeps at least its first value.
            let most = UInt64((parameterCount ?? ProtocolLimits.maximumPayloadBytes / MemoryLayout<Float>.size) - values.count)
            guard offset >= 1, offset <= most else {
                throw .fieldOutOfRange(field: "part offset", value: "\(offset)", allowed: "1…\(most) for a part of \(values.count) floats")
            }
            return .gradientPart(GradientPart(offset: Int(offset), values: values))

        case .weights:
            return .weights(try floats(of: payload[0], frame: "weights", parameterCount: parameterCount))

        case .weightsDelta:
            return .weightsDelta(try encodedVector(of: payload[0], frame: "weights delta", parameterCount: parameterCount))

        case .epochEnd:
            let frame = try bytes(of: payload[0], frame: "epoch", allowed: 8...8)
            let epoch = frame.withUnsafeBytes { $0.loadLittleEndian(fromByteOffset: 0, as: UInt64.self) }
            guard epoch >= 1, epoch <= limits.maxStep else {
                throw .fieldOutOfRange(field: "epoch", value: "\(epoch)", allowed: "1…\(limits.maxStep)")
            }
            return .epochEnd(epoch: epoch)

        case .evaluationResult:
            let frame = try bytes(of: payload[0], frame: "evaluation result", allowed: 24...24)
            let (meanLoss, correct, count) = frame.withUnsafeBytes {
                (
                    $0.loadLittleEndianDouble(fromByteOffset: 0),
                    $0.loadLittleEndian(fromByteOffset: 8, as: UInt64.self),
                    $0.loadLittleEndian(fromByteOffset: 16, as: UInt64.self)
                )
            }
            guard meanLoss.isFinite else { throw .nonFiniteLoss(bitPattern: meanLoss.bitPattern) }
            let countValue = try checkSampleCount(count, field: "evaluation count", limits: limits)
            guard correct <= count else {
                throw .fieldOutOfRange(field: "evaluation correct", value: "\(correct)", allowed: "0…\(count) (the count)")
            }
            return .evaluationResult(EvaluationResult(meanLoss: meanLoss, correct: Int(correct), count: countValue))

        case .error:
            let reason = try bytes(of: payload[0], frame: "error reason", allowed: 1...ProtocolLimits.maximumReasonBytes)
            guard let text = String(validating: reason, as: UTF8.self) else { throw .invalidUTF8(frame: "error reason") }
            return .error(reason: text)

        case .evaluationRequest:
            return .evaluationRequest
        case .stop:
            return .stop
        case .heartbeat:
            return .heartbeat
        }
    }

    /// The bytes of a frame whose size must lie in `allowed`.
    private static func bytes(of frame: some PayloadFrame, frame name: String, allowed: ClosedRange<Int>) throws(ProtocolError) -> [UInt8] {
        guard allowed.contains(frame.byteCount) else { throw .frameSize(frame: name, bytes: frame.byteCount, expected: allowed) }
        return frame.copyBytes()
    }

    /// The floats of a frame of exactly `parameterCount` floats (or, when unknown, any non-zero whole number of floats).
    private static func floats(of frame: some PayloadFrame, frame name: String, parameterCount: Int?) throws(ProtocolError) -> FloatPayload {
        let bytes = frame.byteCount
        if let parameterCount {
            guard bytes == parameterCount * MemoryLayout<Float>.size else {
                throw .floatFrameSize(frame: name, bytes: bytes, expectedFloats: parameterCount)
            }
        } else {
            guard bytes > 0, bytes % MemoryLayout<Float>.size == 0 else {
                throw .floatFrameSize(frame: name, bytes: bytes, expectedFloats: nil)
            }
        }
        return frame.floatPayload()
    }

    /// The floats of a frame that holds part of a vector of `parameterCount` floats: 1 to `parameterCount` − 1
    /// of them (or, when unknown, any non-zero whole number of floats).
    private static func leadingFloats(of frame: some PayloadFrame, frame name: String, parameterCount: Int?) throws(ProtocolError) -> FloatPayload {
        let bytes = frame.byteCount, size = MemoryLayout<Float>.size
        let most = max(1, (parameterCount ?? ProtocolLimits.maximumPayloadBytes / size + 1) - 1) * size
        guard (size...most).contains(bytes), bytes % size == 0 else {
            throw .frameSize(frame: name, bytes: bytes, expected: size...most)
        }
        return frame.floatPayload()
    }

    /// The bytes of a codec's frame for `parameterCount` floats: 1 byte up to the largest frame any
    /// codec writes for them (`ProtocolLimits.maximumEncodedBytes(parameterCount:)`); the codec checks the rest.
    private static func encodedVector(of frame: some PayloadFrame, frame name: String, parameterCount: Int?) throws(ProtocolError) -> EncodedVector {
        let most = parameterCount.map(ProtocolLimits.maximumEncodedBytes(parameterCount:)) ?? ProtocolLimits.maximumPayloadBytes
        guard (1...most).contains(frame.byteCount) else { throw .frameSize(frame: name, bytes: frame.byteCount, expected: 1...most) }
        return frame.encodedVector()
    }

    private static func checkSampleCount(_ value: UInt64, field: String, limits: ProtocolLimits) throws(ProtocolError) -> Int {
        guard value <= UInt64(limits.maxSampleCount) else {
            throw .sampleCountOutOfRange(field: field, value: value, limit: limits.maxSampleCount)
        }
        return Int(value)
    }
}
