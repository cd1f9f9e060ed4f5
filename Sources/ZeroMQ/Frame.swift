import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One frame of an outgoing message: bytes copied into libzmq at send time, or a zero-copy view.
///
/// A zero-copy frame (`init(noCopy:owner:)`) hands libzmq a pointer into memory that `owner` keeps
/// alive. Sending retains `owner`; libzmq releases it when it has finished with the bytes: on its
/// I/O thread after writing them to tcp or ipc, or, over inproc, when the receiver drops its
/// `ReceivedFrame` (the receiver reads the sender's memory directly). Until then the bytes must not
/// change: write the next values into the buffer only after the owner has been released, or send
/// from a buffer that is not written again. Make the owner the buffer itself, never an object that
/// keeps the socket or its context alive: the last release may run on libzmq's I/O thread, and
/// terminating a context there would wait for that very thread.
public struct Frame {
    enum Storage {
        case bytes([UInt8])
        case floats([Float])
        case noCopy(UnsafeRawBufferPointer, owner: AnyObject)
    }

    let storage: Storage

    /// A frame holding `bytes`.
    public init(_ bytes: [UInt8]) {
        storage = .bytes(bytes)
    }

    /// A frame holding the UTF-8 of `string`, without a terminator.
    public init(_ string: String) {
        storage = .bytes(Array(string.utf8))
    }

    /// A frame holding a copy, made now, of `bytes`.
    public init(copying bytes: UnsafeRawBufferPointer) {
        storage = .bytes(Array(bytes))
    }

    /// A frame holding `floats` as raw float32 in host byte order (little-endian on every supported CPU).
    public init(floats: [Float]) {
        storage = .floats(floats)
    }

    /// A frame holding a copy, made now, of `floats` as raw float32 in host byte order.
    public init(copying floats: UnsafeBufferPointer<Float>) {
        storage = .floats(Array(floats))
    }

    /// A zero-copy frame of `bytes`, which `owner` keeps alive and unchanged until libzmq releases it.
    public init(noCopy bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        storage = .noCopy(bytes, owner: owner)
    }

    /// A zero-copy frame of `floats` (raw float32, host byte order), kept alive and unchanged by `owner`.
    public init(noCopy floats: UnsafeBufferPointer<Float>, owner: AnyObject) {
        storage = .noCopy(UnsafeRawBufferPointer(floats), owner: owner)
    }

    /// A zero-copy frame of a received frame's bytes, for forwarding it to another socket.
    public init(forwarding frame: ReceivedFrame) {
        storage = .noCopy(frame.rawBytes, owner: frame)
    }

    /// The number of bytes the frame sends.
    public var count: Int {
        switch storage {
        case .bytes(let bytes): bytes.count
        case .floats(let floats): floats.count * MemoryLayout<Float>.size
        case .noCopy(let bytes, _): bytes.count
        }
    }

    /// Initialises `message` with this frame's bytes; the caller sends or closes it.
    func initialize(_ message: UnsafeMutablePointer<zmq_msg_t>) throws {
        switch storage {
        case .bytes(let bytes):
            try bytes.withUnsafeBytes { try Frame.initialize(message, copying: $0) }
        case .floats(let floats):
            try floats.withUnsafeBytes { try Frame.initialize(message, copying: $0) }
        case .noCopy(let bytes, let owner):
            // Balanced by the release in the free callback, which libzmq calls exactly once when the
            // message's last reference goes (possibly on its I/O thread).
            let retained = Unmanaged.passRetained(owner).toOpaque()
            let result = zmq_msg_init_data(
                message, UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count,
                { _, hint in
                    if let hint { Unmanaged<AnyObject>.fromOpaque(hint).release() }
                },
                retained
            )
            if result != 0 {
                Unmanaged<AnyObject>.fromOpaque(retained).release()
                throw ZMQError.last("create a zero-copy frame of \(bytes.count) bytes")
            }
        }
    }

    private static func initialize(_ message: UnsafeMutablePointer<zmq_msg_t>, copying bytes: UnsafeRawBufferPointer) throws {
        if zmq_msg_init_size(message, bytes.count) != 0 {
            throw ZMQError.last("create a frame of \(bytes.count) bytes")
        }
        if let source = bytes.baseAddress, bytes.count > 0 {
            zmq_msg_data(message).copyMemory(from: source, byteCount: bytes.count)
        }
    }
}

extension Frame: ExpressibleByStringLiteral {
    /// A frame holding the UTF-8 of the literal.
    public init(stringLiteral value: String) {
        self.init(value)
    }
}
