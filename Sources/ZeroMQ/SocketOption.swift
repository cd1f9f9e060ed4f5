import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A typed ZeroMQ socket option: `try socket.set(.linger, 100)`, `try socket.get(.receiveHighWaterMark)`.
///
/// Options libzmq has but this file does not name can be made with the initialisers, for example
/// `SocketOption<Int32>(ZMQ_TOS, name: "ZMQ_TOS")`. Most options take effect only for binds and
/// connects made after they are set.
public struct SocketOption<Value>: Sendable, CustomStringConvertible {
    /// libzmq's constant, for example `ZMQ_LINGER`.
    public let code: Int32
    /// libzmq's name, used in error messages.
    public let name: String
    // The most bytes zmq_getsockopt may write.
    let capacity: Int
    let encode: @Sendable (Value) -> [UInt8]
    // nil when libzmq answered with a size the option cannot have.
    let decode: @Sendable (UnsafeRawBufferPointer) -> Value?

    /// The option's libzmq name.
    public var description: String { name }
}

extension SocketOption where Value == Int32 {
    /// An option whose value is a C `int`.
    public init(_ code: Int32, name: String) {
        self.init(
            code: code, name: name, capacity: MemoryLayout<Int32>.size,
            encode: { value in withUnsafeBytes(of: value) { Array($0) } },
            decode: { bytes in bytes.count == MemoryLayout<Int32>.size ? bytes.loadUnaligned(as: Int32.self) : nil }
        )
    }

    /// Milliseconds that unsent messages are kept after `close()`; -1 forever. This wrapper's default is 0.
    public static var linger: Self { .init(ZMQ_LINGER, name: "ZMQ_LINGER") }
    /// Messages queued per peer for sending before the socket blocks or drops (0: no limit; default 1000).
    public static var sendHighWaterMark: Self { .init(ZMQ_SNDHWM, name: "ZMQ_SNDHWM") }
    /// Messages queued per peer for receiving before libzmq stops reading (0: no limit; default 1000).
    public static var receiveHighWaterMark: Self { .init(ZMQ_RCVHWM, name: "ZMQ_RCVHWM") }
    /// Milliseconds a blocking send waits before failing with `EAGAIN`; -1 (default) waits forever.
    public static var sendTimeout: Self { .init(ZMQ_SNDTIMEO, name: "ZMQ_SNDTIMEO") }
    /// Milliseconds a blocking receive waits before failing with `EAGAIN`; -1 (default) waits forever.
    public static var receiveTimeout: Self { .init(ZMQ_RCVTIMEO, name: "ZMQ_RCVTIMEO") }
    /// Milliseconds between ZMTP PING heartbeats on each connection; 0 (default) sends none.
    public static var heartbeatInterval: Self { .init(ZMQ_HEARTBEAT_IVL, name: "ZMQ_HEARTBEAT_IVL") }
    /// Milliseconds without any traffic after a PING before the connection is closed.
    public static var heartbeatTimeout: Self { .init(ZMQ_HEARTBEAT_TIMEOUT, name: "ZMQ_HEARTBEAT_TIMEOUT") }
    /// Milliseconds the peer should wait for traffic before closing (sent in PINGs; resolution 100 ms).
    public static var heartbeatTTL: Self { .init(ZMQ_HEARTBEAT_TTL, name: "ZMQ_HEARTBEAT_TTL") }
    /// Milliseconds a new connection has to finish its ZMTP handshake (CURVE and ZAP included) before
    /// it is closed; 0 waits forever (libzmq's default: 30,000).
    public static var handshakeInterval: Self { .init(ZMQ_HANDSHAKE_IVL, name: "ZMQ_HANDSHAKE_IVL") }
    /// Milliseconds before the first reconnection attempt after a connection drops (default 100).
    public static var reconnectInterval: Self { .init(ZMQ_RECONNECT_IVL, name: "ZMQ_RECONNECT_IVL") }
}

extension SocketOption where Value == Int64 {
    /// An option whose value is a C `int64_t`.
    public init(_ code: Int32, name: String) {
        self.init(
            code: code, name: name, capacity: MemoryLayout<Int64>.size,
            encode: { value in withUnsafeBytes(of: value) { Array($0) } },
            decode: { bytes in bytes.count == MemoryLayout<Int64>.size ? bytes.loadUnaligned(as: Int64.self) : nil }
        )
    }

    /// Largest frame, in bytes, accepted from a peer; a larger one closes that connection (-1: no limit).
    public static var maxMessageSize: Self { .init(ZMQ_MAXMSGSIZE, name: "ZMQ_MAXMSGSIZE") }
}

extension SocketOption where Value == Bool {
    /// An option whose value is a C `int` used as a flag.
    public init(_ code: Int32, name: String) {
        self.init(
            code: code, name: name, capacity: MemoryLayout<Int32>.size,
            encode: { value in withUnsafeBytes(of: Int32(value ? 1 : 0)) { Array($0) } },
            decode: { bytes in bytes.count == MemoryLayout<Int32>.size ? bytes.loadUnaligned(as: Int32.self) != 0 : nil }
        )
    }

    /// Queue messages only for completed connections, so sends block or fail instead of piling up.
    public static var immediate: Self { .init(ZMQ_IMMEDIATE, name: "ZMQ_IMMEDIATE") }
    /// ROUTER: fail a send to an unknown or full peer with `EHOSTUNREACH` / `EAGAIN` instead of dropping it (write-only).
    public static var routerMandatory: Self { .init(ZMQ_ROUTER_MANDATORY, name: "ZMQ_ROUTER_MANDATORY") }
}

extension SocketOption where Value == [UInt8] {
    /// An option whose value is a byte string of at most `capacity` bytes.
    public init(_ code: Int32, name: String, capacity: Int = 256) {
        self.init(
            code: code, name: name, capacity: capacity,
            encode: { $0 }, decode: { Array($0) }
        )
    }

    /// The identity (1–255 bytes, not starting with 0) a ROUTER peer sees; set before connecting.
    public static var routingID: Self { .init(ZMQ_ROUTING_ID, name: "ZMQ_ROUTING_ID") }
    /// SUB: add a subscription to messages whose first frame starts with these bytes (write-only).
    public static var subscribe: Self { .init(ZMQ_SUBSCRIBE, name: "ZMQ_SUBSCRIBE") }
    /// SUB: remove one matching subscription (write-only).
    public static var unsubscribe: Self { .init(ZMQ_UNSUBSCRIBE, name: "ZMQ_UNSUBSCRIBE") }
}

extension SocketOption where Value == String {
    /// An option whose value is a string (set without, read with a NUL terminator) of fewer than `capacity` bytes.
    public init(_ code: Int32, name: String, capacity: Int = 1024) {
        self.init(
            code: code, name: name, capacity: capacity,
            encode: { Array($0.utf8) },
            decode: { bytes in String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self) }
        )
    }

    /// The endpoint of the last bind or connect, with a wildcard port resolved (read-only).
    public static var lastEndpoint: Self { .init(ZMQ_LAST_ENDPOINT, name: "ZMQ_LAST_ENDPOINT") }
}

extension Socket {
    /// Sets `option` to `value` (`zmq_setsockopt`).
    public func set<Value>(_ option: SocketOption<Value>, _ value: Value) throws {
        let operation = "set \(option.name) on \(type) socket"
        let handle = try openHandle(operation)
        let bytes = option.encode(value)
        let result = bytes.withUnsafeBytes { zmq_setsockopt(handle, option.code, $0.baseAddress, $0.count) }
        if result != 0 { throw ZMQError.last(operation) }
    }

    /// The current value of `option` (`zmq_getsockopt`).
    public func get<Value>(_ option: SocketOption<Value>) throws -> Value {
        let operation = "get \(option.name) on \(type) socket"
        let handle = try openHandle(operation)
        var buffer = [UInt8](repeating: 0, count: option.capacity)
        var size = buffer.count
        let result = buffer.withUnsafeMutableBytes { zmq_getsockopt(handle, option.code, $0.baseAddress, &size) }
        if result != 0 { throw ZMQError.last(operation) }
        let value = buffer.withUnsafeBytes { option.decode(UnsafeRawBufferPointer(rebasing: $0.prefix(size))) }
        guard let value else { throw ZMQError(code: EINVAL, operation: "\(operation): unexpected size \(size)") }
        return value
    }
}
