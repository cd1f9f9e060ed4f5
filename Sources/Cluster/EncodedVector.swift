import Transport

/// A vector of floats as a codec wrote it (a compressed push or weight delta): bytes to send, or a
/// received frame read in place. Its size is checked against the protocol's bounds when received;
/// its contents only by the codec that decodes it (`Codec.decode(_:into:)`), which refuses a frame that lies.
public enum EncodedVector: @unchecked Sendable {
    // Unchecked: both cases are immutable.

    /// Bytes owned by the value.
    case bytes([UInt8])
    /// A received frame whose size lies within the protocol's bounds.
    case received(any IncomingFrame)

    /// The number of bytes.
    public var byteCount: Int {
        switch self {
        case .bytes(let bytes): bytes.count
        case .received(let frame): frame.count
        }
    }

    /// Calls `body` with the bytes, valid only during the call.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        switch self {
        case .bytes(let bytes): try bytes.withUnsafeBytes(body)
        case .received(let frame): try frame.withUnsafeBytes(body)
        }
    }

    /// A copy of the bytes.
    public var bytes: [UInt8] {
        switch self {
        case .bytes(let bytes): bytes
        case .received(let frame): frame.bytes
        }
    }

    /// The frame that sends these bytes (zero-copy for a received frame).
    public var frame: Frame {
        switch self {
        case .bytes(let bytes): Frame(bytes)
        case .received(let frame): Frame(forwarding: frame)
        }
    }

    /// Decodes the vector with `codec` into `destination` (every value written); the error says why
    /// the bytes are not a frame of `codec` for `destination.count` values.
    public func decode(with codec: any Codec, into destination: UnsafeMutableBufferPointer<Float>) -> CodecError? {
        withUnsafeBytes { ErrorFeedback.decode($0, with: codec, into: destination) }
    }
}

extension EncodedVector: Equatable {
    /// Whether both hold the same bytes.
    public static func == (lhs: EncodedVector, rhs: EncodedVector) -> Bool { lhs.bytes == rhs.bytes }
}
