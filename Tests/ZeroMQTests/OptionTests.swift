import Testing
import TestSupport
import ZeroMQ

@Suite("Socket options", .blocking)
struct OptionTests {
    @Test func socketsStartWithLingerZero() throws {
        let context = try Context()
        for type in SocketType.allCases {
            #expect(try context.socket(type).get(.linger) == 0, "\(type)")
        }
    }

    @Test func integerOptionsRoundTrip() throws {
        let context = try Context()
        let socket = try context.socket(.dealer)
        let options: [(SocketOption<Int32>, Int32)] = [
            (.linger, 250), (.sendHighWaterMark, 7), (.receiveHighWaterMark, 9),
            (.sendTimeout, 1500), (.receiveTimeout, -1), (.heartbeatInterval, 1000),
            (.heartbeatTimeout, 3000), (.heartbeatTTL, 5000), (.reconnectInterval, 50),
        ]
        for (option, value) in options {
            try socket.set(option, value)
            #expect(try socket.get(option) == value, "\(option)")
        }
        try socket.set(.maxMessageSize, 9_000_000)
        #expect(try socket.get(.maxMessageSize) == 9_000_000)
        try socket.set(.immediate, true)
        #expect(try socket.get(.immediate))
    }

    @Test func routingIDRoundTripsAndIsValidated() throws {
        let context = try Context()
        let socket = try context.socket(.dealer)
        try socket.set(.routingID, [1, 2, 3, 250])
        #expect(try socket.get(.routingID) == [1, 2, 3, 250])
        let error = try #require(throws: ZMQError.self) { try socket.set(.routingID, []) }
        #expect(error.description == "set ZMQ_ROUTING_ID on DEALER socket: Invalid argument")
    }

    @Test func rawOptionsWorkThroughTheEscapeHatch() throws {
        let context = try Context()
        let socket = try context.socket(.push)
        let typeOption = SocketOption<Int32>(ZMQ_TYPE_CODE, name: "ZMQ_TYPE")
        #expect(try socket.get(typeOption) == SocketType.push.code)
    }
}

/// `ZMQ_TYPE`, spelled out so the tests need not import CZeroMQ.
private let ZMQ_TYPE_CODE: Int32 = 16
