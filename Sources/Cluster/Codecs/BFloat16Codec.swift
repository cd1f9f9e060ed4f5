/// Every value as a bfloat16 (the upper 16 bits of its float32, rounded to nearest, ties to even):
/// half the bytes, float32's range, 8 significant bits (a relative error of at most 2⁻⁸).
public struct BFloat16Codec: Codec {
    public var name: String { "bf16" }
    public var isLossless: Bool { false }

    /// The bfloat16 codec.
    public init() {}

    /// The bfloat16 bits nearest to `value`; a NaN stays a (quiet) NaN, an infinity an infinity.
    @inline(__always) static func bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    public func encode(_ values: UnsafeBufferPointer<Float>) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * 2)
        bytes.withUnsafeMutableBytes { raw in
            for (index, value) in values.enumerated() {
                raw.storeBytes(of: Self.bits(value).littleEndian, toByteOffset: index * 2, as: UInt16.self)
            }
        }
        return bytes
    }

    public func decode(_ bytes: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>) throws(CodecError) {
        guard bytes.count == destination.count * 2 else {
            throw .size(codec: name, bytes: bytes.count, expected: "\(destination.count * 2) (\(destination.count) bfloat16 values)")
        }
        for index in destination.indices {
            let half = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
            destination[index] = Float(bitPattern: UInt32(half) << 16)
        }
    }
}
