import Cluster
import Testing

/// Random and mutated messages never crash the decoder, and nothing it accepts has a lying header.
@Suite struct FuzzTests {
    private enum Mutation: CaseIterable {
        case bitFlips, truncation, dropFrame, extraFrame, lengthLie, fingerprintChange, magicOrVersion, garbage
    }

    @Test func decodesTwelveThousandMutatedMessagesSafely() throws {
        var random = SplitMix(seed: 0x5EED_2026)
        let originals = Fixtures.everyMessage.map { $0.encodedBytes() }
        var accepted = 0
        var rejected = 0
        var mustReject = 0
        for _ in 0..<12_000 {
            var frames = originals.randomElement(using: &random)!
            let mutation = Mutation.allCases.randomElement(using: &random)!
            var headerLies = false
            switch mutation {
            case .bitFlips:
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    let candidates = frames.indices.filter { !frames[$0].isEmpty }
                    let frame = candidates.randomElement(using: &random)!
                    let bit = Int.random(in: 0..<(frames[frame].count * 8), using: &random)
                    frames[frame][bit / 8] ^= UInt8(1) << (bit % 8)
                }
            case .truncation:
                let candidates = frames.indices.filter { !frames[$0].isEmpty }
                let frame = candidates.randomElement(using: &random)!
                frames[frame].removeLast(Int.random(in: 1...frames[frame].count, using: &random))
                headerLies = true
            case .dropFrame:
                frames.remove(at: Int.random(in: frames.indices, using: &random))
            case .extraFrame:
                let extra = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                frames.insert(extra, at: Int.random(in: 1...frames.count, using: &random))
            case .lengthLie:
                let truth = UInt64(frames.dropFirst().reduce(0) { $0 + $1.count })
                var lie = truth
                while lie == truth {
                    lie = Bool.random(using: &random) ? random.next() : truth &+ UInt64.random(in: 1...16, using: &random) &- 8
                }
                poke(lie, into: &frames[0], at: 32)
                headerLies = true
            case .fingerprintChange:
                let original = frames[0].withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 24, as: UInt64.self) }
                poke(UInt64(littleEndian: original) ^ (random.next() | 1), into: &frames[0], at: 24)
                let type = frames[0][6]
                headerLies = type != UInt8(MessageType.error.rawValue)
            case .magicOrVersion:
                let offset = Int.random(in: 0..<6, using: &random)
                frames[0][offset] ^= UInt8.random(in: 1...255, using: &random)
                // An error is read in any version (its layout never changes); the magic must always hold.
                headerLies = offset < 4 || frames[0][6] != UInt8(MessageType.error.rawValue)
            case .garbage:
                frames = (0..<Int.random(in: 0...5, using: &random)).map { index in
                    var bytes = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                    if index == 0 && Bool.random(using: &random) {
                        bytes = MessageHeader(type: MessageType.allCases.randomElement(using: &random)!, sender: UInt32(truncatingIfNeeded: random.next() % 3))
                            .encoded
                        for offset in 8..<40 where Bool.random(using: &random) { bytes[offset] = UInt8.random(in: 0...255, using: &random) }
                    }
                    return bytes
                }
            }
            if headerLies { mustReject += 1 }

            let message: WireMessage
            do {
                message = try Fixtures.decode(frames)
            } catch {
                rejected += 1
                #expect(!error.description.isEmpty)
                continue
            }
            accepted += 1
            #expect(!headerLies, "accepted a \(mutation) mutation of \(message.type)")
            try checkHeaderTellsTheTruth(frames, message)
        }
        #expect(accepted + rejected == 12_000)
        #expect(mustReject > 3_000)
        #expect(rejected >= mustReject)
        #expect(accepted > 100, "some mutations (a float bit, a step) are legitimately valid")
    }

    /// For an accepted message: the header's fields describe exactly what was decoded and received.
    /// A codec frame is within its bound, and every codec decodes it or says why not, without crashing.
    private func checkCodecFrame(_ vector: EncodedVector) {
        #expect((1...ProtocolLimits.maximumEncodedBytes(parameterCount: Fixtures.parameterCount)).contains(vector.byteCount))
        var values = [Float](repeating: 0, count: Fixtures.parameterCount)
        for codec in [DenseCodec(), BFloat16Codec(), Float16Codec(), TopKCodec(fraction: 0.25)] as [any Codec] {
            _ = values.withUnsafeMutableBufferPointer { vector.decode(with: codec, into: $0) }
        }
    }

    private func checkHeaderTellsTheTruth(_ frames: [[UInt8]], _ message: WireMessage) throws {
        let header = try MessageHeader(decoding: frames[0])
        #expect(header.type == message.type)
        #expect(header.sender == message.sender)
        #expect(header.step == message.step)
        #expect(header.payloadLength == UInt64(frames.dropFirst().reduce(0) { $0 + $1.count }))
        switch message.body {
        case .join, .hello, .shardJoin:
            #expect(header.fingerprint == 0)
        case .error:
            break
        default:
            #expect(header.fingerprint == Fixtures.fingerprint)
        }
        switch message.body {
        case .welcome(let welcome):
            #expect(welcome.weights.count == Fixtures.parameterCount)
            #expect(welcome.slot < welcome.worldSize && welcome.rank < ProtocolLimits.standard.maxWorldSize)
        case .weights(let weights):
            #expect(weights.count == Fixtures.parameterCount)
        case .pushGradient(let push):
            // A NaN or infinite loss is well-formed (the server rejects such a push itself).
            #expect(push.gradient.count == Fixtures.parameterCount || (push.gradient.count == 0 && push.sampleCount == 0)
                    || (push.gradient.count == 0 && push.encodedGradient != nil)
                    || (push.restSentInParts && (1..<Fixtures.parameterCount).contains(push.gradient.count) && push.sampleCount > 0))
            #expect(push.restSentInParts == header.flags.contains(.partsSent))
            #expect(push.isEndOfEpoch == header.flags.contains(.endOfEpoch))
            if let vector = push.encodedGradient {
                #expect(header.flags.contains(.encoded))
                checkCodecFrame(vector)
            }
        case .weightsDelta(let delta):
            checkCodecFrame(delta)
        case .gradientPart(let part):
            #expect(part.offset >= 1 && part.range.upperBound <= Fixtures.parameterCount && part.values.count >= 1)
        case .evaluationResult(let result):
            #expect(result.meanLoss.isFinite && result.correct <= result.count)
        default:
            break
        }
        // What we accepted re-encodes to a message we accept again as the same bytes (a NaN loss is not == itself).
        #expect(try Fixtures.decode(message.encodedBytes()).encodedBytes() == message.encodedBytes())
    }
}
