import Foundation
import Testing
import TestSupport
import ZeroMQ

@Suite("Receiving with timeouts and limits", .blocking)
struct ReceiveTests {
    @Test func receiveTimeoutReturnsNilWithinItsBound() throws {
        let context = try Context()
        let pull = try context.socket(.pull)
        try pull.bind("tcp://127.0.0.1:*")
        let (frames, milliseconds) = try timed { try pull.receiveMultipart(timeout: 50) }
        #expect(frames == nil)
        #expect(milliseconds >= 45 && milliseconds < 5000, "took \(milliseconds) ms")
    }

    @Test func nonBlockingReceiveReturnsNilAtOnceThenTheMessage() throws {
        let context = try Context()
        let a = try context.socket(.pair), b = try context.socket(.pair)
        try a.bind("inproc://try-receive")
        try b.connect("inproc://try-receive")
        let (frames, milliseconds) = try timed { try b.tryReceiveMultipart() }
        #expect(frames == nil)
        #expect(milliseconds < 2000)
        try a.send(["now"])
        #expect(strings(try b.tryReceiveMultipart()) == ["now"])
    }

    @Test func blockingReceiveHonoursTheReceiveTimeoutOption() throws {
        let context = try Context()
        let pull = try context.socket(.pull)
        try pull.set(.receiveTimeout, 30)
        try pull.bind("inproc://receive-timeout")
        let start = ContinuousClock.now
        let error = try #require(throws: ZMQError.self) { try pull.receiveMultipart() }
        #expect(error.isWouldBlock)
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func messagesBeyondTheLimitsAreDiscardedWholeAndReported() throws {
        let context = try Context()
        let a = try context.socket(.pair), b = try context.socket(.pair)
        try a.bind("inproc://limits")
        try b.connect("inproc://limits")

        try a.send(["1", "2", "3", "4", "5"])
        try a.send(["ok"])
        let tooMany = try #require(throws: ZMQError.self) {
            try b.receiveMultipart(timeout: 1000, limits: ReceiveLimits(maxFrames: 3))
        }
        #expect(tooMany.code == EMSGSIZE)
        #expect(tooMany.description == "receive on PAIR socket: message discarded, more than 3 frames: Message too long")
        // The rest of the oversized message was drained: the next receive gets the next message.
        #expect(strings(try b.receiveMultipart(timeout: 1000, limits: ReceiveLimits(maxFrames: 3))) == ["ok"])

        try a.send([Frame([UInt8](repeating: 0, count: 600)), Frame([UInt8](repeating: 0, count: 600))])
        try a.send([Frame([UInt8](repeating: 0, count: 1000))])
        let tooLarge = try #require(throws: ZMQError.self) {
            try b.receiveMultipart(timeout: 1000, limits: ReceiveLimits(maxBytes: 1000))
        }
        #expect(tooLarge.description.contains("more than 1000 bytes"))
        #expect(try b.receiveMultipart(timeout: 1000, limits: ReceiveLimits(maxBytes: 1000))?.first?.count == 1000)
    }

    @Test func maxMessageSizeDropsTheConnectionOfAnOversizedSender() throws {
        let context = try Context()
        let pull = try context.socket(.pull)
        try pull.set(.maxMessageSize, 1000)
        try pull.bind("tcp://127.0.0.1:*")
        let endpoint = try pull.lastEndpoint

        let hostile = try context.socket(.push)
        try hostile.connect(endpoint)
        try hostile.send([Frame([UInt8](repeating: 1, count: 2000))])
        #expect(try pull.receiveMultipart(timeout: 200) == nil)

        let polite = try context.socket(.push)
        try polite.connect(endpoint)
        try polite.send([Frame([UInt8](repeating: 2, count: 1000))])
        let frames = try #require(try pull.receiveMultipart(timeout: 1000))
        #expect(frames.map(\.count) == [1000])
        #expect(frames[0].bytes.allSatisfy { $0 == 2 })
    }
}
