import Cluster
import Testing

/// Each way a message can be wrong is caught with the right error.
@Suite struct ValidationTests {
    private var gradient: [[UInt8]] { Fixtures.everyMessage[2].encodedBytes() }
    private var welcome: [[UInt8]] { Fixtures.everyMessage[1].encodedBytes() }

    private func setLength(_ frames: inout [[UInt8]]) {
        poke(UInt64(frames.dropFirst().reduce(0) { $0 + $1.count }), into: &frames[0], at: 32)
    }

    @Test func noFramesAtAll() {
        #expect(Fixtures.error(decoding: []) == .missingHeader)
    }

    @Test func truncatedHeader() {
        var frames = gradient
        frames[0].removeLast(3)
        #expect(Fixtures.error(decoding: frames) == .headerSize(37))
        #expect(ProtocolError.headerSize(37).description == "header frame has 37 bytes, expected 40")
    }

    @Test func wrongMagic() {
        var frames = gradient
        frames[0][0] = UInt8(ascii: "X")
        #expect(Fixtures.error(decoding: frames) == .badMagic(Array("XTPS".utf8)))
    }

    @Test func versionMismatchIsItsOwnError() {
        var frames = gradient
        poke(UInt16(1), into: &frames[0], at: 4)
        #expect(Fixtures.error(decoding: frames) == .versionMismatch(received: 1, supported: MessageHeader.currentVersion))
    }

    /// An error keeps its layout in every version, so a refusal from a peer of another version is read.
    @Test func anErrorInAnotherVersionIsStillRead() throws {
        let refusal = WireMessage(sender: MessageHeader.serverSender, body: .error(reason: "protocol version 3 is not supported; this side speaks version 4"))
        for version: UInt16 in [2, MessageHeader.currentVersion + 1] {
            var frames = refusal.encodedBytes()
            poke(version, into: &frames[0], at: 4)
            let message = try WireMessage.decode(bytes: frames, expectedFingerprint: Fixtures.fingerprint, parameterCount: nil)
            #expect(message.body == .error(reason: "protocol version 3 is not supported; this side speaks version 4"))
        }
        // Any other type in another version is still refused.
        var hello = WireMessage(sender: MessageHeader.unassignedSender, body: .hello).encodedBytes()
        poke(MessageHeader.currentVersion + 1, into: &hello[0], at: 4)
        #expect(Fixtures.error(decoding: hello) == .versionMismatch(received: MessageHeader.currentVersion + 1, supported: MessageHeader.currentVersion))
    }

    @Test func unknownType() {
        var frames = gradient
        poke(UInt16(77), into: &frames[0], at: 6)
        #expect(Fixtures.error(decoding: frames) == .unknownType(77))
    }

    @Test func undefinedOrMisplacedFlags() {
        var frames = gradient
        poke(UInt32(0x8000_0001), into: &frames[0], at: 12)
        #expect(Fixtures.error(decoding: frames) == .unexpectedFlags(.pushGradient, flags: 0x8000_0001))
        var weights = Fixtures.everyMessage[4].encodedBytes()
        poke(UInt32(1), into: &weights[0], at: 12)
        #expect(Fixtures.error(decoding: weights) == .unexpectedFlags(.weights, flags: 1))
    }

    @Test func senderImpossibleForTheType() {
        var frames = gradient
        poke(MessageHeader.serverSender, into: &frames[0], at: 8)
        #expect(Fixtures.error(decoding: frames) == .unexpectedSender(.pushGradient, sender: .max))
        var weights = Fixtures.everyMessage[4].encodedBytes()
        poke(UInt32(0), into: &weights[0], at: 8)
        #expect(Fixtures.error(decoding: weights) == .unexpectedSender(.weights, sender: 0))
    }

    @Test func wrongFingerprint() {
        var frames = gradient
        poke(UInt64(99), into: &frames[0], at: 24)
        #expect(Fixtures.error(decoding: frames) == .fingerprintMismatch(received: 99, expected: Fixtures.fingerprint))
        var join = Fixtures.everyMessage[0].encodedBytes()
        poke(UInt64(5), into: &join[0], at: 24)
        #expect(Fixtures.error(decoding: join) == .fingerprintMismatch(received: 5, expected: 0))
    }

    @Test func absurdStep() {
        var frames = gradient
        poke(UInt64.max, into: &frames[0], at: 16)
        #expect(Fixtures.error(decoding: frames) == .stepOutOfRange(.max, limit: ProtocolLimits.standard.maxStep))
    }

    @Test func payloadLengthMismatch() {
        var frames = gradient
        poke(UInt64(52), into: &frames[0], at: 32)
        #expect(Fixtures.error(decoding: frames) == .payloadLengthMismatch(declared: 52, actual: 64))
        poke(UInt64.max, into: &frames[0], at: 32)
        #expect(Fixtures.error(decoding: frames) == .payloadTooLarge(bytes: .max, limit: ProtocolLimits.maximumPayloadBytes(parameterCount: 12)))
    }

    @Test func wrongFloatCountNamesBothSizes() {
        var frames = gradient
        frames[2] = [UInt8](repeating: 0, count: 4000)
        setLength(&frames)
        let error = Fixtures.error(decoding: frames, parameterCount: 109_386)
        #expect(error == .floatFrameSize(frame: "gradient", bytes: 4000, expectedFloats: 109_386))
        #expect(error?.description == "gradient frame has 4000 bytes, expected 437544 (109386 floats)")
        var ragged = Fixtures.everyMessage[4].encodedBytes()
        ragged[1].removeLast()
        setLength(&ragged)
        #expect(Fixtures.error(decoding: ragged, parameterCount: nil) == .floatFrameSize(frame: "weights", bytes: 47, expectedFloats: nil))
    }

    @Test func emptyGradientOnlyWithZeroSamples() {
        var frames = gradient
        frames[2] = []
        setLength(&frames)
        #expect(Fixtures.error(decoding: frames) == .floatFrameSize(frame: "gradient", bytes: 0, expectedFloats: 12))
    }

    /// A push's NaN or infinite loss is data, not framing: it decodes (the server then rejects the push);
    /// an evaluation result's must be finite.
    @Test func nonFiniteLoss() throws {
        for loss in [Double.nan, .infinity, -.infinity] {
            var frames = gradient
            poke(loss.bitPattern, into: &frames[1], at: 8)
            let message = try Fixtures.decode(frames)
            guard case .pushGradient(let push) = message.body else {
                Issue.record("expected a push-gradient, got \(message.type)")
                continue
            }
            #expect(push.meanLoss.bitPattern == loss.bitPattern)
        }
        var result = Fixtures.everyMessage[7].encodedBytes()
        poke(Double.nan.bitPattern, into: &result[1], at: 0)
        #expect(Fixtures.error(decoding: result) == .nonFiniteLoss(bitPattern: Double.nan.bitPattern))
    }

    @Test func absurdSampleCount() {
        var frames = gradient
        poke(UInt64(1) << 40, into: &frames[1], at: 0)
        #expect(Fixtures.error(decoding: frames) == .sampleCountOutOfRange(field: "gradient sample count", value: 1 << 40, limit: 1 << 30))
        var result = Fixtures.everyMessage[7].encodedBytes()
        poke(UInt64(4_601), into: &result[1], at: 8)
        poke(UInt64(4_600), into: &result[1], at: 16)
        #expect(Fixtures.error(decoding: result) == .fieldOutOfRange(field: "evaluation correct", value: "4601", allowed: "0…4600 (the count)"))
    }

    @Test func missingAndExtraFrames() {
        var missing = gradient
        missing.removeLast()
        setLength(&missing)
        #expect(Fixtures.error(decoding: missing) == .frameCount(.pushGradient, received: 1, expected: 2))
        var extra = gradient
        extra.append([1, 2, 3])
        setLength(&extra)
        #expect(Fixtures.error(decoding: extra) == .frameCount(.pushGradient, received: 3, expected: 2))
        var stop = Fixtures.everyMessage[8].encodedBytes()
        stop.append([])
        #expect(Fixtures.error(decoding: stop) == .frameCount(.stop, received: 1, expected: 0))
    }

    @Test func wrongStatisticsFrameSize() {
        var frames = gradient
        frames[1].append(0)
        setLength(&frames)
        #expect(Fixtures.error(decoding: frames) == .frameSize(frame: "gradient statistics", bytes: 17, expected: 16...16))
    }

    @Test func badConfigurationJSON() {
        var frames = welcome
        frames[2] = Array("{\"model\": ".utf8)
        setLength(&frames)
        #expect(Fixtures.error(decoding: frames) == .invalidJSON(frame: "configuration", reason: "not JSON"))
        frames[2] = Array(#"{"model":"mlp","dataset":"mnist","optimizer":"sgd","learning_rate":0.01,"momentum":0.9,"epochs":1,"seed":1,"mode":"sync"}"#.utf8)
        setLength(&frames)
        #expect(Fixtures.error(decoding: frames) == .invalidJSON(frame: "configuration", reason: "missing key \"batch_size_per_worker\""))
        frames[2] = Array(#"{"model":"mlp","dataset":"mnist","optimizer":"sgd","learning_rate":0.01,"momentum":0.9,"batch_size_per_worker":0,"epochs":1,"seed":1,"mode":"sync"}"#.utf8)
        setLength(&frames)
        #expect(Fixtures.error(decoding: frames) == .fieldOutOfRange(field: "configuration batch_size_per_worker", value: "0", allowed: "1…1073741824"))
        frames[2] = Array(#"{"model":"mlp","dataset":"mnist","optimizer":"rmsprop","learning_rate":0.01,"momentum":0.9,"batch_size_per_worker":8,"epochs":1,"seed":1,"mode":"sync"}"#.utf8)
        setLength(&frames)
        #expect(Fixtures.error(decoding: frames) == .invalidJSON(frame: "configuration", reason: "bad value at \"optimizer\""))
        let optimizer = #"{"name":"sgd","lr":-1,"momentum":0.9,"dampening":0,"nesterov":false,"weight_decay":0,"beta1":0.9,"beta2":0.999,"eps":1e-8}"#
        frames[2] = Array(#"{"model":"mlp","dataset":"mnist","optimizer":\#(optimizer),"batch_size_per_worker":8,"epochs":1,"seed":1,"mode":"sync"}"#.utf8)
        setLength(&frames)
        #expect(Fixtures.error(decoding: frames) == .fieldOutOfRange(field: "configuration optimizer", value: "sgd",
                                                                     allowed: "settings that hold: lr -1.0 is not a finite number > 0"))
        frames[2] = Array(#"{"model":"mlp","dataset":"mnist","optimizer":"sgd","learning_rate":0.01,"momentum":0.9,"batch_size_per_worker":8,"epochs":1,"seed":1,"mode":"ssp"}"#.utf8)
        setLength(&frames)
        #expect(Fixtures.error(decoding: frames) == .fieldOutOfRange(field: "configuration staleness", value: "none", allowed: "0…1000000 in ssp mode"))
        frames[2] = Array(#"{"model":"mlp","dataset":"mnist","optimizer":"sgd","learning_rate":0.01,"momentum":0.9,"batch_size_per_worker":8,"epochs":1,"seed":1,"mode":"sync","staleness":2}"#.utf8)
        setLength(&frames)
        #expect(Fixtures.error(decoding: frames) == .fieldOutOfRange(field: "configuration staleness", value: "2", allowed: "none in sync mode"))
    }

    @Test func badJoinDescription() {
        var frames = Fixtures.everyMessage[0].encodedBytes()
        frames[1] = Array(#"{"checksum":"0123456789abcdef","name":"mnist","train_count":-5,"test_count":10}"#.utf8)
        setLength(&frames)
        #expect(Fixtures.error(decoding: frames) == .fieldOutOfRange(field: "data-set train_count", value: "-5", allowed: "0…1073741824"))
    }

    @Test func welcomeSlotOutsideWorld() {
        var frames = welcome
        poke(UInt32(2), into: &frames[1], at: 4)
        #expect(Fixtures.error(decoding: frames) == .fieldOutOfRange(field: "slot", value: "2", allowed: "0…1"))
    }

    @Test func welcomeRankEpochAndOffsetOutOfRange() {
        var frames = welcome
        poke(UInt32(70_000), into: &frames[1], at: 0)
        #expect(Fixtures.error(decoding: frames) == .fieldOutOfRange(field: "rank", value: "70000", allowed: "0…65535"))
        frames = welcome
        poke(UInt32(2_000_000), into: &frames[1], at: 12)
        #expect(Fixtures.error(decoding: frames) == .fieldOutOfRange(field: "epoch", value: "2000000", allowed: "0…999999"))
        frames = welcome
        poke(UInt64(1) << 40, into: &frames[1], at: 16)
        #expect(Fixtures.error(decoding: frames) == .sampleCountOutOfRange(field: "epoch offset", value: 1 << 40, limit: 1 << 30))
    }

    @Test func invalidUTF8Reason() {
        var frames = Fixtures.everyMessage[9].encodedBytes()
        frames[1] = [0x66, 0xC3, 0x28, 0xFF]
        setLength(&frames)
        #expect(Fixtures.error(decoding: frames) == .invalidUTF8(frame: "error reason"))
        frames[1] = []
        setLength(&frames)
        #expect(Fixtures.error(decoding: frames) == .frameSize(frame: "error reason", bytes: 0, expected: 1...4096))
    }

    @Test func errorMessagesAreAcceptedWithoutAFingerprint() throws {
        let refusal = WireMessage(sender: MessageHeader.serverSender, body: .error(reason: "protocol version 2 is not supported"))
        let decoded = try Fixtures.decode(refusal.encodedBytes())
        #expect(decoded == refusal)
    }
}
