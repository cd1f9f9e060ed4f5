import Cluster
import Testing
import ZeroMQ

/// The protocol over a real tcp connection: a worker's DEALER to a server's ROUTER.
@Suite struct SocketTests {
    @Test func gradientCrossesTCPBitIdentically() throws {
        let parameterCount = 109_386
        let fingerprint: UInt64 = 0x0123_4567_89AB_CDEF
        let context = try Context()
        let router = try context.socket(.router)
        try router.set(.receiveTimeout, 10_000)
        try router.set(.maxMessageSize, Int64(ProtocolLimits.maximumPayloadBytes(parameterCount: parameterCount)))
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try context.socket(.dealer)
        try dealer.set(.routingID, Array("worker-1".utf8))
        try dealer.connect(router.lastEndpoint)

        let gradient = SharedFloats(count: parameterCount)
        let push = WireMessage(
            sender: 1, step: 41, fingerprint: fingerprint,
            body: .pushGradient(GradientPush(sampleCount: 32, meanLoss: 0.693, isEndOfEpoch: true, gradient: gradient.payload))
        )
        try dealer.send(push.encoded())

        let frames = try router.receiveMultipart(limits: .parameterServer(parameterCount: parameterCount))
        #expect(frames.count == 4)
        #expect(frames[3].count == parameterCount * 4)
        let (identity, message) = try WireMessage.decodeRouted(
            frames: frames, expectedFingerprint: fingerprint, parameterCount: parameterCount)
        #expect(identity == Array("worker-1".utf8))
        #expect(message == push)
        guard case .pushGradient(let received) = message.body else {
            Issue.record("decoded \(message.type), expected push-gradient")
            return
        }
        #expect(received.sampleCount == 32 && received.meanLoss == 0.693 && received.isEndOfEpoch)
        let copy = UnsafeMutableBufferPointer<Float>.allocate(capacity: parameterCount)
        defer { copy.deallocate() }
        #expect(received.gradient.copy(into: copy) == parameterCount)
        #expect(copy.indices.allSatisfy { copy[$0].bitPattern == gradient.floats[$0].bitPattern })

        // The server's answer goes back to the same worker through its identity.
        let weights = WireMessage(sender: MessageHeader.serverSender, step: 42, fingerprint: fingerprint, body: .weights(gradient.payload))
        try router.send(weights.encoded(to: identity))
        try dealer.set(.receiveTimeout, 10_000)
        let reply = try WireMessage.decode(
            frames: dealer.receiveMultipart(limits: .worker), expectedFingerprint: fingerprint, parameterCount: parameterCount)
        #expect(reply == weights)
    }

    @Test func oversizedMessageIsDiscardedByTheServerLimits() throws {
        let context = try Context()
        let router = try context.socket(.router)
        try router.set(.receiveTimeout, 10_000)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try context.socket(.dealer)
        try dealer.connect(router.lastEndpoint)
        let tooBig = WireMessage(sender: 0, step: 1, body: .pushGradient(GradientPush(
            sampleCount: 1, meanLoss: 0, gradient: .array([Float](repeating: 1, count: 100_000)))))
        try dealer.send(tooBig.encoded())
        let heartbeat = WireMessage(sender: 0, step: 1, fingerprint: 9, body: .heartbeat)
        try dealer.send(heartbeat.encoded())
        let limits = ReceiveLimits.parameterServer(parameterCount: 1_000)
        #expect(throws: ZMQError.self) { try router.receiveMultipart(limits: limits) }
        let (_, next) = try WireMessage.decodeRouted(frames: router.receiveMultipart(limits: limits), expectedFingerprint: 9, parameterCount: 1_000)
        #expect(next == heartbeat)
    }
}
