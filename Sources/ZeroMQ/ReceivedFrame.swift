import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import Transport

/// One frame of a received message; it owns libzmq's buffer (a `zmq_msg_t`) and frees it on deinit.
///
/// The bytes are immutable and may be read from any thread; `IncomingFrame` gives the ways to read
/// them (they may be unaligned).
public final class ReceivedFrame: IncomingFrame, @unchecked Sendable {
    // Allocated here, so its address (and the inline data of a small message) never moves.
    private let message: UnsafeMutablePointer<zmq_msg_t>
    /// The frame's size in bytes.
    public let count: Int
    // Whether another frame of the same message follows.
    let hasMore: Bool

    private init(message: UnsafeMutablePointer<zmq_msg_t>) {
        self.message = message
        self.count = zmq_msg_size(message)
        self.hasMore = zmq_msg_more(message) == 1
    }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
    }

    /// Receives one frame from `socket` with `flags`; nil on `EAGAIN`, retries `EINTR`.
    static func receive(from socket: UnsafeMutableRawPointer, flags: Int32, operation: @autoclosure () -> String) throws -> ReceivedFrame? {
        let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        zmq_msg_init(message)
        while zmq_msg_recv(message, socket, flags) == -1 {
            let code = zmq_errno()
            if code == EINTR { continue }
            zmq_msg_close(message)
            message.deallocate()
            if code == EAGAIN { return nil }
            throw ZMQError(code: code, operation: operation())
        }
        return ReceivedFrame(message: message)
    }

    /// The bytes, valid as long as self is alive.
    public var unsafeBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: count > 0 ? zmq_msg_data(message) : nil, count: count)
    }

    /// A property of the connection the frame came in on (`zmq_msg_gets`), or nil if it has none.
    ///
    /// For example "User-Id" (set by the ZAP handler: the client's Z85 public key under `ZAPHandler`),
    /// "Peer-Address" or "Socket-Type". A ROUTER's identity frame, made locally, has no properties.
    public func metadata(_ property: String) -> String? {
        withExtendedLifetime(self) {
            zmq_msg_gets(message, property).map { String(cString: $0) }
        }
    }
}
