/// One frame of an outgoing message: bytes a transport copies when it sends, or a zero-copy view.
///
/// A zero-copy frame (`init(noCopy:owner:)`) hands the transport a pointer into memory that `owner`
/// keeps alive. Sending retains `owner`; the transport releases it when it has finished with the
/// bytes (ZeroMQ: on its I/O thread after writing them to tcp or ipc, or, over inproc, when the
/// receiver drops its received frame, which reads the sender's memory directly). Until then the bytes
/// must not change: write the next values into the buffer only after the owner has been released, or
/// send from a buffer that is not written again. Make the owner the buffer itself, never an object
/// that keeps a socket or its context alive: the last release may run on a transport's own thread.
public struct Frame {
    /// What the frame holds.
    public enum Storage {
        /// Bytes, copied at send time.
        case bytes([UInt8])
        /// Raw float32 values in host byte order, copied at send time.
        case floats([Float])
        /// A view of memory that `owner` keeps alive and unchanged until the transport releases it.
        case noCopy(UnsafeRawBufferPointer, owner: AnyObject)
    }

    /// What the frame holds.
    public let storage: Storage

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

    /// A zero-copy frame of `bytes`, which `owner` keeps alive and unchanged until the transport releases it.
    public init(noCopy bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        storage = .noCopy(bytes, owner: owner)
    }

    /// A zero-copy frame of `floats` (raw float32, host byte order), kept alive and unchanged by `owner`.
    public init(noCopy floats: UnsafeBufferPointer<Float>, owner: AnyObject) {
        storage = .noCopy(UnsafeRawBufferPointer(floats), owner: owner)
    }

    /// A zero-copy frame of a received frame's bytes, for forwarding it to another peer.
    public init(forwarding frame: some IncomingFrame) {
        storage = .noCopy(frame.unsafeBytes, owner: frame)
    }

    /// The number of bytes the frame sends.
    public var count: Int {
        switch storage {
        case .bytes(let bytes): bytes.count
        case .floats(let floats): floats.count * MemoryLayout<Float>.size
        case .noCopy(let bytes, _): bytes.count
        }
    }

    /// Calls `body` with the frame's bytes, valid only during the call.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        switch storage {
        case .bytes(let bytes): try bytes.withUnsafeBytes(body)
        case .floats(let floats): try floats.withUnsafeBytes(body)
        case .noCopy(let bytes, let owner): try withExtendedLifetime(owner) { try body(bytes) }
        }
    }
}

extension Frame: ExpressibleByStringLiteral {
    /// A frame holding the UTF-8 of the literal.
    public init(stringLiteral value: String) {
        self.init(value)
    }
}
