/// Every value as an IEEE half (binary16, rounded to nearest, ties to even): half the bytes, 11
/// significant bits, but a range of only ±65504 with subnormals below 6.1e−5 — PyTorch's
/// `fp16_compress_hook` makes the same trade. A finite value beyond the range is sent as ±65504,
/// not as ±∞ (as PyTorch's cast would), so error feedback carries the rest to later frames; ±∞ and
/// NaN stay what they are.
public struct Float16Codec: Codec {
    public var name: String { "fp16" }
    public var isLossless: Bool { false }

    /// The binary16 codec.
    public init() {}

    /// binary16's largest finite value, as a float.
    static let largest = Float(Float16.greatestFiniteMagnitude)

    public func encode(_ values: UnsafeBufferPointer<Float>) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * 2)
        bytes.withUnsafeMutableBytes { raw in
            for (index, value) in values.enumerated() {
                let half = value.isFinite ? Float16(max(-Self.largest, min(Self.largest, value))) : Float16(value)
                raw.storeBytes(of: half.bitPattern.littleEndian, toByteOffset: index * 2, as: UInt16.self)
            }
        }
        return bytes
    }

    public func decode(_ bytes: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>) throws(CodecError) {
        guard bytes.count == destination.count * 2 else {
            throw .size(codec: name, bytes: bytes.count, expected: "\(destination.count * 2) (\(destination.count) binary16 values)")
        }
        for index in destination.indices {
            let half = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
            destination[index] = Float(Float16(bitPattern: half))
        }
    }
}
