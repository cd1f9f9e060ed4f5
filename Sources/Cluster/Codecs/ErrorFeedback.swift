import Engine

/// Error feedback for a lossy codec: keeps what the last frames did not carry (the residual) and
/// adds it to the next vector before encoding, so every value reaches the other side, only late.
///
/// After any number of frames of finite values, the sum of what was decoded plus `residual` equals
/// the sum of the inputs (up to float rounding): nothing is lost. A frame that sent ±∞ or NaN
/// leaves no residual for that value, so one bad gradient does not poison the frames after it.
/// Its buffers are allocated once, so a frame costs no float allocation; use it from one thread at
/// a time.
public final class ErrorFeedback {
    /// The codec the frames are written with.
    public let codec: any Codec
    /// The number of values of each vector.
    public let count: Int
    /// What was left out so far, added to the next vector; the input plus it, which is encoded; and
    /// what the receiver decodes from the last frame.
    private let buffers: (left: FloatBuffer, carried: FloatBuffer, received: FloatBuffer)
    private var left: UnsafeMutableBufferPointer<Float> { buffers.left.values }
    private var carried: UnsafeMutableBufferPointer<Float> { buffers.carried.values }
    private var received: UnsafeMutableBufferPointer<Float> { buffers.received.values }

    /// Error feedback for vectors of `count` values written with `codec`.
    public init(codec: any Codec, count: Int) {
        self.codec = codec
        self.count = count
        buffers = (FloatBuffer(count: count), FloatBuffer(count: count), FloatBuffer(count: count))
    }

    /// What was left out so far, added to the next vector (a copy).
    public var residual: [Float] { Array(left) }

    /// What the receiver decodes from the last frame (read-only, valid until the next frame).
    public var lastDecoded: UnsafeBufferPointer<Float> { UnsafeBufferPointer(received) }

    /// Forgets the residual (a new start: nothing owed to the other side).
    public func reset() {
        left.update(repeating: 0)
    }

    /// The frame for `values` plus the residual; the residual becomes what the frame left out, and
    /// `lastDecoded` what the receiver will decode from it.
    public func encodeFrame(_ values: UnsafeBufferPointer<Float>) -> [UInt8] {
        precondition(values.count == count, "error feedback for \(count) values was given \(values.count)")
        for index in 0..<count { carried[index] = values[index] + left[index] }
        let bytes = codec.encode(UnsafeBufferPointer(carried))
        // Decoding our own frame cannot fail; it is what the receiver will compute.
        let outcome = bytes.withUnsafeBytes { raw in Self.decode(raw, with: codec, into: received) }
        if let problem = outcome { preconditionFailure("\(codec.name) cannot decode its own frame: \(problem)") }
        // A value that went out as ±∞ or NaN leaves nothing to carry: kept, it would make every
        // later frame of that coordinate non-finite, and the receiver rejects the frame that had it.
        for index in 0..<count {
            let rest = carried[index] - received[index]
            left[index] = rest.isFinite ? rest : 0
        }
        return bytes
    }

    /// The frame for `values` plus the residual, and what the other side will decode from it (a copy);
    /// the residual becomes what the frame left out.
    public func encode(_ values: UnsafeBufferPointer<Float>) -> (bytes: [UInt8], decoded: [Float]) {
        let bytes = encodeFrame(values)
        return (bytes, Array(received))
    }

    /// Decodes `bytes` into `destination`; the error, if decoding fails.
    static func decode(_ bytes: UnsafeRawBufferPointer, with codec: any Codec, into destination: UnsafeMutableBufferPointer<Float>) -> CodecError? {
        do {
            try codec.decode(bytes, into: destination)
            return nil
        } catch {
            return error
        }
    }
}
