import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A ZeroMQ socket. Not thread-safe: one thread owns it and makes every call on it.
///
/// A socket may move to another thread only with a full memory barrier in between (handing it
/// over through a lock or a queue), never be used from two threads at once, and is therefore not
/// `Sendable`. A network node drives its sockets from one dedicated thread (see `Poller`).
///
/// Sockets start with linger 0: closing one discards its unsent messages at once, and the context can
/// always terminate (see `Context`). Set `.linger` to keep unsent messages for a while after `close()`.
/// The socket keeps its context alive; `close()` or deinit closes it (`zmq_close`).
public final class Socket {
    /// The context that made this socket.
    public let context: Context
    /// The socket's messaging pattern.
    public let type: SocketType
    // nil after close().
    private var handle: UnsafeMutableRawPointer?

    init(context: Context, type: SocketType) throws {
        let operation = "create \(type) socket"
        let handle = try context.makeSocket(type, operation: operation)
        var linger: Int32 = 0
        if zmq_setsockopt(handle, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size) != 0 {
            let error = ZMQError.last("\(operation): set ZMQ_LINGER")
            zmq_close(handle)
            throw error
        }
        self.context = context
        self.type = type
        self.handle = handle
    }

    deinit {
        if let handle { zmq_close(handle) }
    }

    /// Closes the socket; unsent messages are kept for the linger period. Idempotent.
    public func close() {
        guard let handle else { return }
        zmq_close(handle)
        self.handle = nil
    }

    /// Whether `close()` has been called.
    public var isClosed: Bool { handle == nil }

    /// Accepts connections on `endpoint` ("tcp://127.0.0.1:*", "ipc:///tmp/x", "inproc://name").
    public func bind(_ endpoint: String) throws {
        try call("bind \(endpoint)") { zmq_bind($0, endpoint) }
    }

    /// Connects to `endpoint`; libzmq connects (and reconnects) in the background.
    public func connect(_ endpoint: String) throws {
        try call("connect \(endpoint)") { zmq_connect($0, endpoint) }
    }

    /// Stops accepting on `endpoint`; for a wildcard bind pass the resolved `lastEndpoint`.
    public func unbind(_ endpoint: String) throws {
        try call("unbind \(endpoint)") { zmq_unbind($0, endpoint) }
    }

    /// Drops the connection to `endpoint` made by `connect(_:)`.
    public func disconnect(_ endpoint: String) throws {
        try call("disconnect \(endpoint)") { zmq_disconnect($0, endpoint) }
    }

    /// The endpoint of the last bind or connect, with the OS-chosen port of a "tcp://host:*" bind.
    public var lastEndpoint: String {
        get throws { try get(.lastEndpoint) }
    }

    /// Subscribes a SUB socket to messages whose first frame starts with `prefix` (empty: all).
    public func subscribe(_ prefix: [UInt8] = []) throws {
        try set(.subscribe, prefix)
    }

    /// Subscribes a SUB socket to messages whose first frame starts with the UTF-8 of `prefix`.
    public func subscribe(_ prefix: String) throws {
        try set(.subscribe, Array(prefix.utf8))
    }

    /// Removes one earlier subscription to `prefix`.
    public func unsubscribe(_ prefix: [UInt8] = []) throws {
        try set(.unsubscribe, prefix)
    }

    /// Removes one earlier subscription to the UTF-8 of `prefix`.
    public func unsubscribe(_ prefix: String) throws {
        try set(.unsubscribe, Array(prefix.utf8))
    }

    /// The open libzmq socket, or an `ENOTSOCK` error naming `operation` if it was closed.
    func openHandle(_ operation: @autoclosure () -> String) throws -> UnsafeMutableRawPointer {
        guard let handle else {
            throw ZMQError(code: ENOTSOCK, operation: "\(operation()) (socket closed)")
        }
        return handle
    }

    private func call(_ operation: String, _ body: (UnsafeMutableRawPointer) -> Int32) throws {
        let handle = try openHandle(operation)
        if body(handle) != 0 { throw ZMQError.last(operation) }
    }
}

@available(*, unavailable, message: "ZeroMQ sockets are not thread-safe: keep each on one thread")
extension Socket: Sendable {}
