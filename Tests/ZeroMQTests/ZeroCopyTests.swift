import Foundation
import Testing
import TestSupport
import ZeroMQ

@Suite("Zero-copy frames", .blocking)
struct ZeroCopyTests {
    /// The CNN's parameter count: 8.5 MB of float32 per step.
    static let floatCount = 2_122_186

    @Test func largeFloatFrameOverTCPArrivesBitIdenticalAndReleasesItsOwner() throws {
        let context = try Context()
        let pull = try context.socket(.pull), push = try context.socket(.push)
        try pull.bind("tcp://127.0.0.1:*")
        try push.connect(try pull.lastEndpoint)

        var buffer: FloatBuffer? = FloatBuffer(count: Self.floatCount)
        weak let released = buffer
        let expected = FloatBuffer(count: Self.floatCount)
        try push.send(["weights", Frame(noCopy: buffer!.readOnly, owner: buffer!)])
        buffer = nil

        let frames = try #require(try pull.receiveMultipart(timeout: 2000))
        #expect(frames.count == 2)
        #expect(frames[1].count == Self.floatCount * 4)
        let received = UnsafeMutableBufferPointer<Float>.allocate(capacity: Self.floatCount)
        defer { received.deallocate() }
        #expect(frames[1].copyFloats(into: received) == Self.floatCount)
        #expect(memcmp(received.baseAddress!, expected.floats.baseAddress!, Self.floatCount * 4) == 0)

        // libzmq's I/O thread runs the free callback once it has written the bytes.
        #expect(eventually(within: 1000) { released == nil })
    }

    @Test func inprocHandsTheSendersMemoryToTheReceiver() throws {
        let context = try Context()
        let pull = try context.socket(.pull), push = try context.socket(.push)
        try pull.bind("inproc://zero-copy")
        try push.connect("inproc://zero-copy")

        var buffer: FloatBuffer? = FloatBuffer(count: 1000)
        weak let released = buffer
        let region = UnsafeBufferPointer(rebasing: buffer!.readOnly[100..<600])
        try push.send([Frame(noCopy: region, owner: buffer!)])
        buffer = nil

        var frames = try #require(try pull.receiveMultipart(timeout: 1000))
        frames[0].withUnsafeBytes { #expect($0.baseAddress == UnsafeRawPointer(region.baseAddress)) }
        #expect(frames[0].floats.map(\.bitPattern) == region.map(\.bitPattern))
        // Over inproc the receiver holds the owner until it drops the frame.
        #expect(released != nil)
        frames.removeAll()
        #expect(released == nil)
    }

    @Test func anUnsentZeroCopyFrameReleasesItsOwner() throws {
        let context = try Context()
        let push = try context.socket(.push)  // no peer: a non-blocking send cannot be queued
        var buffer: FloatBuffer? = FloatBuffer(count: 16)
        weak let released = buffer
        #expect(try push.trySend([Frame(noCopy: buffer!.readOnly, owner: buffer!)]) == false)
        buffer = nil
        #expect(released == nil)
    }

    @Test func forwardingAReceivedFrameKeepsItAliveUntilSent() throws {
        let context = try Context()
        let inbound = try context.socket(.pair), relay = try context.socket(.pair)
        try inbound.bind("inproc://forward-in")
        try relay.connect("inproc://forward-in")
        let outbound = try context.socket(.pull), sink = try context.socket(.push)
        try outbound.bind("tcp://127.0.0.1:*")
        try sink.connect(try outbound.lastEndpoint)

        let payload = (0..<5000).map { Float($0) }
        try inbound.send([Frame(floats: payload)])
        var frames = try #require(try relay.receiveMultipart(timeout: 1000))
        weak let forwarded = frames[0]
        try sink.send([Frame(forwarding: frames[0])])
        frames.removeAll()
        #expect(try outbound.receiveMultipart(timeout: 1000)?.first?.floats == payload)
        #expect(eventually(within: 1000) { forwarded == nil })
    }
}
