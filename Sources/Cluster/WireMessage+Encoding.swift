import Transport

extension WireMessage {
    /// The frames of the message, header first; float payloads are zero-copy when borrowed or received.
    public func encoded() -> [Frame] {
        encoded(version: MessageHeader.currentVersion)
    }

    /// The bytes of each frame of the message, header first (a copy; for tests and tools, not the hot path).
    public func encodedBytes() -> [[UInt8]] {
        let payload = payloadParts()
        return [header(for: payload).encoded] + payload.map { part in
            switch part {
            case .bytes(let bytes):
                return bytes
            case .encoded(let vector):
                return vector.bytes
            case .floats(let floats):
                var writer = ByteWriter(capacity: floats.count * MemoryLayout<Float>.size)
                for value in floats.floats { writer.append(value.bitPattern) }
                return writer.bytes
            }
        }
    }

    /// The number of payload bytes (the header's payload length), for logs.
    public var payloadByteCount: Int {
        payloadParts().reduce(0) { $0 + $1.count }
    }

    /// The frames to send to one worker from a ROUTER: `identity`, then the message.
    public func encoded(to identity: [UInt8]) -> [Frame] {
        [Frame(identity)] + encoded()
    }

    /// The frames of the message with `version` in its header: an error to a peer of another
    /// version, which reads only its own version's headers (an error's layout is the same in all).
    public func encoded(version: UInt16) -> [Frame] {
        let payload = payloadParts()
        var header = header(for: payload)
        header.version = version
        return [Frame(header.encoded)] + payload.map { part in
            switch part {
            case .bytes(let bytes): Frame(bytes)
            case .encoded(let vector): vector.frame
            case .floats(let floats): floats.frame
            }
        }
    }

    /// One payload frame before it becomes a `Frame`.
    private enum PayloadPart {
        case bytes([UInt8])
        case encoded(EncodedVector)
        case floats(FloatPayload)

        var count: Int {
            switch self {
            case .bytes(let bytes): bytes.count
            case .encoded(let vector): vector.byteCount
            case .floats(let floats): floats.count * MemoryLayout<Float>.size
            }
        }
    }

    private func header(for payload: [PayloadPart]) -> MessageHeader {
        var flags: MessageFlags = []
        if case .pushGradient(let push) = body {
            if push.isEndOfEpoch { flags.insert(.endOfEpoch) }
            if push.encodedGradient != nil { flags.insert(.encoded) }
            if push.restSentInParts { flags.insert(.partsSent) }
        }
        return MessageHeader(
            type: type, sender: sender, flags: flags, step: step, fingerprint: fingerprint,
            payloadLength: UInt64(payload.reduce(0) { $0 + $1.count })
        )
    }

    private func payloadParts() -> [PayloadPart] {
        switch body {
        case .join(let description):
            return [.bytes(description.encodedJSON())]
        case .shardJoin(let join):
            var place = ByteWriter(capacity: 20)
            place.append(UInt32(truncatingIfNeeded: join.rank))
            place.append(UInt32(truncatingIfNeeded: join.slot))
            place.append(UInt32(truncatingIfNeeded: join.epoch))
            place.append(UInt64(truncatingIfNeeded: join.offset))
            return [.bytes(place.bytes), .bytes(join.dataset.encodedJSON())]
        case .shardWeights(let weights):
            var place = ByteWriter(capacity: 8)
            place.append(UInt32(truncatingIfNeeded: weights.shard))
            place.append(UInt32(truncatingIfNeeded: weights.epoch))
            return [.bytes(place.bytes), .floats(weights.values)]
        case .setup(let setup):
            return [.bytes(setup.configuration.encodedJSON()), .bytes(setup.dataset.encodedJSON())]
        case .welcome(let welcome):
            var assignment = ByteWriter(capacity: 24)
            assignment.append(UInt32(truncatingIfNeeded: welcome.rank))
            assignment.append(UInt32(truncatingIfNeeded: welcome.slot))
            assignment.append(UInt32(truncatingIfNeeded: welcome.worldSize))
            assignment.append(UInt32(truncatingIfNeeded: welcome.epoch))
            assignment.append(UInt64(truncatingIfNeeded: welcome.offset))
            return [.bytes(assignment.bytes), .bytes(welcome.configuration.encodedJSON()), .floats(welcome.weights)]
        case .pushGradient(let push):
            var statistics = ByteWriter(capacity: 16)
            statistics.append(UInt64(truncatingIfNeeded: push.sampleCount))
            statistics.append(push.meanLoss)
            return [.bytes(statistics.bytes), push.encodedGradient.map { .encoded($0) } ?? .floats(push.gradient)]
        case .gradientPart(let part):
            var offset = ByteWriter(capacity: 8)
            offset.append(UInt64(truncatingIfNeeded: part.offset))
            return [.bytes(offset.bytes), .floats(part.values)]
        case .weights(let weights):
            return [.floats(weights)]
        case .weightsDelta(let delta):
            return [.encoded(delta)]
        case .epochEnd(let epoch):
            var writer = ByteWriter(capacity: 8)
            writer.append(epoch)
            return [.bytes(writer.bytes)]
        case .evaluationResult(let result):
            var writer = ByteWriter(capacity: 24)
            writer.append(result.meanLoss)
            writer.append(UInt64(truncatingIfNeeded: result.correct))
            writer.append(UInt64(truncatingIfNeeded: result.count))
            return [.bytes(writer.bytes)]
        case .error(let reason):
            return [.bytes(Array(reason.utf8))]
        case .hello, .evaluationRequest, .stop, .heartbeat:
            return []
        }
    }
}
