import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One frame of a received message; it owns libzmq's buffer (a `zmq_msg_t`) and frees it on deinit.
///
/// The bytes are immutable and may be read from any thread. They are not guaranteed to be aligned
/// (over tcp, small frames point into libzmq's receive buffer at arbitrary offsets): read them with
/// `loadUnaligned`, `copyFloats(into:)` or `bytes`, never by binding the memory to a wider type.
public final class ReceivedFrame: @unchecked Sendable {
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

    // The bytes, valid as long as self is alive.
    var rawBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: count > 0 ? zmq_msg_data(message) : nil, count: count)
    }

    /// Calls `body` with the frame's bytes, which are valid only during the call and may be unaligned.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(self) { try body(rawBytes) }
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

    /// A copy of the frame's bytes.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// The frame's bytes decoded as UTF-8, with invalid sequences replaced.
    public var string: String {
        withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// The number of whole float32 values in the frame (`count / 4`).
    public var floatCount: Int { count / MemoryLayout<Float>.size }

    /// Copies min(`floatCount`, `destination.count`) floats into `destination`; returns how many.
    @discardableResult
    public func copyFloats(into destination: UnsafeMutableBufferPointer<Float>) -> Int {
        let floats = min(floatCount, destination.count)
        guard floats > 0, let target = destination.baseAddress else { return 0 }
        withUnsafeBytes { source in
            // A byte copy: the source may be unaligned, the destination is aligned Float memory.
            UnsafeMutableRawPointer(target).copyMemory(from: source.baseAddress!, byteCount: floats * MemoryLayout<Float>.size)
        }
        return floats
    }

    /// A copy of the frame's whole float32 values.
    public var floats: [Float] {
        [Float](unsafeUninitializedCapacity: floatCount) { buffer, initialized in
            initialized = copyFloats(into: buffer)
        }
    }
}
