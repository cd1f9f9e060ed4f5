import Foundation
import Testing
import TestSupport
import ZeroMQ

@Suite("Transports and multipart messages", .blocking)
struct TransportTests {
    @Test func inprocPairRoundTrip() throws {
        let context = try Context()
        let a = try context.socket(.pair), b = try context.socket(.pair)
        try a.bind("inproc://pair-round-trip")
        try b.connect("inproc://pair-round-trip")

        try a.send(["ping", Frame([0, 1, 2, 255]), Frame([])])
        let received = try #require(try b.receiveMultipart(timeout: 1000))
        #expect(received.map(\.bytes) == [Array("ping".utf8), [0, 1, 2, 255], []])

        try b.send(["pong"])
        #expect(strings(try a.receiveMultipart(timeout: 1000)) == ["pong"])
    }

    @Test func ipcPushPullUnderTemporaryDirectory() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.url.appendingPathComponent("s").path
        let context = try Context()
        let pull = try context.socket(.pull), push = try context.socket(.push)
        try pull.bind("ipc://\(path)")
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(try pull.lastEndpoint == "ipc://\(path)")
        try push.connect("ipc://\(path)")

        try push.send(["over", "ipc"])
        #expect(strings(try pull.receiveMultipart(timeout: 1000)) == ["over", "ipc"])
        pull.close()
        push.close()
    }

    @Test func tcpWildcardPortIsReportedByLastEndpoint() throws {
        let context = try Context()
        let pull = try context.socket(.pull)
        try pull.bind("tcp://127.0.0.1:*")
        let endpoint = try pull.lastEndpoint
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let port = try #require(Int(endpoint.split(separator: ":").last ?? ""))
        #expect(port > 0)

        let push = try context.socket(.push)
        try push.connect(endpoint)
        try push.send(["hello"])
        #expect(strings(try pull.receiveMultipart(timeout: 1000)) == ["hello"])

        try push.disconnect(endpoint)
        try pull.unbind(endpoint)
    }

    @Test func routerDealerRoundTripCarriesTheIdentityFrame() throws {
        let context = try Context()
        let router = try context.socket(.router)
        try router.set(.routerMandatory, true)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try context.socket(.dealer)
        try dealer.set(.routingID, Array("worker-1".utf8))
        try dealer.connect(try router.lastEndpoint)

        let payload: [Float] = [1.5, -2, .pi, .infinity]
        try dealer.send(["push", Frame(floats: payload)])
        let request = try #require(try router.receiveMultipart(timeout: 1000))
        #expect(request.count == 3)
        #expect(request[0].string == "worker-1")
        #expect(request[1].string == "push")
        #expect(request[2].floats == payload)

        // Reply through the identity frame as received, without copying it.
        try router.send([Frame(forwarding: request[0]), "weights", Frame(floats: payload.reversed())])
        let reply = try #require(try dealer.receiveMultipart(timeout: 1000))
        #expect(reply.count == 2)
        #expect(reply[0].string == "weights")
        #expect(reply[1].floats == payload.reversed())
    }

    @Test func routerMandatoryRefusesAnUnknownPeer() throws {
        let context = try Context()
        let router = try context.socket(.router)
        try router.set(.routerMandatory, true)
        try router.bind("inproc://router-mandatory")
        let error = try #require(throws: ZMQError.self) { try router.send(["nobody", "hello"]) }
        #expect(error.code == EHOSTUNREACH)
        #expect(error.description == "send on ROUTER socket (frame 1 of 2): Host unreachable")
    }

    @Test func smallFloatFramesOverTCPCopyOutCorrectlyAtAnyAlignment() throws {
        let context = try Context()
        let pull = try context.socket(.pull), push = try context.socket(.push)
        try pull.bind("tcp://127.0.0.1:*")
        try push.connect(try pull.lastEndpoint)
        // Odd-sized frames before the floats shift them inside libzmq's shared receive buffer.
        for shift in 0..<8 {
            let floats = (0..<(25 + shift)).map { Float($0) * 0.5 - Float(shift) }
            try push.send([Frame([UInt8](repeating: 7, count: shift + 1)), Frame(floats: floats)])
            let frames = try #require(try pull.receiveMultipart(timeout: 1000))
            #expect(frames[1].floats == floats)
            var out = [Float](repeating: 0, count: floats.count + 3)
            let copied = out.withUnsafeMutableBufferPointer { frames[1].copyFloats(into: $0) }
            #expect(copied == floats.count)
            #expect(Array(out.prefix(copied)) == floats)
        }
    }
}
