import Cluster
import Foundation
import Testing
import ZeroMQ

@Suite struct RoundTripTests {
    @Test func everyTypeRoundTripsThroughBytes() throws {
        var seen = Set<MessageType>()
        for message in Fixtures.everyMessage {
            let decoded = try Fixtures.decode(message.encodedBytes())
            #expect(decoded == message, "\(message.type)")
            seen.insert(message.type)
        }
        #expect(seen == Set(MessageType.allCases))
    }

    @Test func everyTypeRoundTripsThroughASocket() throws {
        let context = try Context()
        let sender = try context.socket(.pair)
        let receiver = try context.socket(.pair)
        try receiver.bind("inproc://round-trip")
        try sender.connect("inproc://round-trip")
        try receiver.set(.receiveTimeout, 5000)
        for message in Fixtures.everyMessage {
            try sender.send(message.encoded())
            let frames = try receiver.receiveMultipart(limits: .worker)
            let decoded = try WireMessage.decode(
                frames: frames, expectedFingerprint: Fixtures.fingerprint, parameterCount: Fixtures.parameterCount)
            #expect(decoded == message, "\(message.type)")
        }
    }

    @Test func headerLayoutMatchesTheDocumentedOffsets() throws {
        let header = MessageHeader(
            type: .pushGradient, sender: 3, flags: .endOfEpoch, step: 0x0102_0304_0506_0708,
            fingerprint: 0x1112_1314_1516_1718, payloadLength: 0x2122_2324_2526_2728)
        let bytes = header.encoded
        #expect(bytes.count == 40)
        #expect(bytes[0..<4] == [0x41, 0x54, 0x50, 0x53][...])
        #expect(bytes[4..<6] == [5, 0][...])
        #expect(bytes[6..<8] == [3, 0][...])
        #expect(bytes[8..<12] == [3, 0, 0, 0][...])
        #expect(bytes[12..<16] == [1, 0, 0, 0][...])
        #expect(bytes[16..<24] == [8, 7, 6, 5, 4, 3, 2, 1][...])
        #expect(bytes[24..<32] == [0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11][...])
        #expect(bytes[32..<40] == [0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21][...])
        #expect(try MessageHeader(decoding: bytes) == header)
    }

    @Test func payloadLengthIsTheSumOfThePayloadFrames() throws {
        for message in Fixtures.everyMessage {
            let frames = message.encodedBytes()
            let header = try MessageHeader(decoding: frames[0])
            #expect(header.payloadLength == UInt64(frames.dropFirst().reduce(0) { $0 + $1.count }))
            #expect(message.encoded().map(\.count) == frames.map(\.count))
        }
    }

    @Test func configurationJSONUsesSnakeCaseKeys() throws {
        let json = String(decoding: Fixtures.configuration.encodedJSON(), as: UTF8.self)
        #expect(json == #"{"batch_size_per_worker":32,"dataset":"mnist","epochs":1,"mode":"sync","model":"mlp","#
                + #""optimizer":{"beta1":0.9,"beta2":0.999,"dampening":0,"eps":1e-08,"lr":0.01,"momentum":0.9,"name":"sgd","#
                + #""nesterov":false,"weight_decay":0},"seed":42}"#)
        #expect(try TrainingConfiguration(json: Array(json.utf8)) == Fixtures.configuration)
        // Protocol version 2's flat optimiser fields, as its state files hold them, still decode.
        let legacy = #"{"batch_size_per_worker":32,"dataset":"mnist","epochs":1,"learning_rate":0.01,"mode":"sync","model":"mlp","momentum":0.9,"optimizer":"sgd","seed":42}"#
        #expect(try TrainingConfiguration(json: Array(legacy.utf8)) == Fixtures.configuration)
        let ssp = TrainingConfiguration(model: "mlp", dataset: "mnist", optimizer: .adam(learningRate: 0.01, beta2: 0.99),
                                        batchSizePerWorker: 8, epochs: 2, seed: 1, mode: .ssp, staleness: 3)
        #expect(try TrainingConfiguration(json: ssp.encodedJSON()) == ssp)
    }

    @Test func serverReceiveLimitsAdmitTheLargestValidMessage() {
        let limits = ReceiveLimits.parameterServer(parameterCount: 109_386)
        #expect(limits.maxFrames == 5)
        // The largest codec frame: top-k keeping every value, 4 + 8 bytes per value.
        #expect(limits.maxBytes >= 255 + 40 + 16 + 4 + 109_386 * 8)
        // Beyond that frame: an identity, the header, and at most two JSON frames of 64 KiB.
        #expect(limits.maxBytes < 109_386 * 8 + 200_000)
    }
}
