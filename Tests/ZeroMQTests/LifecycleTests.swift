import Foundation
import Testing
import TestSupport
import ZeroMQ

@Suite("Errors, closing and termination", .blocking)
struct LifecycleTests {
    @Test func bindingAPortInUseNamesTheEndpointAndTheOSError() throws {
        let context = try Context()
        let first = try context.socket(.router)
        try first.bind("tcp://127.0.0.1:*")
        let endpoint = try first.lastEndpoint
        let second = try context.socket(.router)
        let error = try #require(throws: ZMQError.self) { try second.bind(endpoint) }
        #expect(error.code == EADDRINUSE)
        #expect(error.description == "bind \(endpoint): Address already in use")
    }

    @Test func aBadEndpointIsReported() throws {
        let context = try Context()
        let socket = try context.socket(.dealer)
        let error = try #require(throws: ZMQError.self) { try socket.connect("carrier-pigeon://loft") }
        #expect(error.description == "connect carrier-pigeon://loft: Protocol not supported")
    }

    @Test func aClosedSocketRefusesWorkAndClosesTwiceQuietly() throws {
        let context = try Context()
        let socket = try context.socket(.push)
        socket.close()
        socket.close()
        #expect(socket.isClosed)
        let error = try #require(throws: ZMQError.self) { try socket.send(["late"]) }
        #expect(error.code == ENOTSOCK)
        #expect(error.description == "send on PUSH socket (socket closed): Socket operation on non-socket")
    }

    @Test func closingTheContextWakesABlockedReceiveWithETERM() throws {
        let context = try Context()
        let pull = try context.socket(.pull)
        try pull.bind("inproc://terminate")
        context.close()
        #expect(context.isClosed)
        let error = try #require(throws: ZMQError.self) { try pull.receiveMultipart() }
        #expect(error.isContextTerminated)
        #expect(throws: ZMQError.self) { try context.socket(.push) }
        pull.close()
    }

    @Test func terminationDoesNotWaitForUnsentMessages() throws {
        let (_, milliseconds) = try timed {
            let context = try Context()
            let push = try context.socket(.push)
            // Nobody listens on port 1: the message stays queued for a connection that never comes.
            try push.connect("tcp://127.0.0.1:1")
            try push.send(["never delivered"])
        }
        #expect(milliseconds < 5000, "took \(milliseconds) ms")
    }

    @Test func libraryFacts() {
        #expect(ZMQLibrary.version.hasPrefix("4."))
        #expect(ZMQLibrary.has("ipc"))
    }
}
