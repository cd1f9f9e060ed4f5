/// Error feedback for a lossy codec: keeps what the last frames did not carry (the residual) and
/// adds it to the next vector before encoding, so every value reaches the other side, only late.
///
/// After any number of frames, the sum of what was decoded plus `residual` equals the sum of the
/// inputs (up to float rounding): nothing is lost.
public struct ErrorFeedback {
    /// The codec the frames are written with.
    public let codec: any Codec
    /// What was left out so far, added to the next vector.
    public private(set) var residual: [Float]
    private var carried: [Float]

    /// Error feedback for vectors of `count` values written with `codec`.
    public init(codec: any Codec, count: Int) {
        self.codec = codec
        residual = [Float](repeating: 0, count: count)
        carried = residual
    }

    /// The frame for `values` plus the residual, and what the other side will decode from it; the
    /// residual becomes what the frame left out.
    public mutating func encode(_ values: UnsafeBufferPointer<Float>) -> (bytes: [UInt8], decoded: [Float]) {
        precondition(values.count == residual.count, "error feedback for \(residual.count) values was given \(values.count)")
        for index in values.indices { carried[index] = values[index] + residual[index] }
        let bytes = carried.withUnsafeBufferPointer { codec.encode($0) }
        // Decoding our own frame cannot fail; it is what the receiver will compute.
        let decoded: [Float]
        do { decoded = try codec.decode(bytes, count: residual.count) } catch {
            preconditionFailure("\(codec.name) cannot decode its own frame: \(error)")
        }
        for index in residual.indices { residual[index] = carried[index] - decoded[index] }
        return (bytes, decoded)
    }
}
