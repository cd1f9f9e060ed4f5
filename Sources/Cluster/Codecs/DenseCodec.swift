/// Every value as a float32, 4 bytes little-endian: what the protocol sends without compression.
public struct DenseCodec: Codec {
    public var name: String { "none" }
    public var isLossless: Bool { true }

    /// The uncompressed codec.
    public init() {}

    public func encode(_ values: UnsafeBufferPointer<Float>) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * 4)
        bytes.withUnsafeMutableBytes { raw in
            for (index, value) in values.enumerated() {
                raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
            }
        }
        return bytes
    }

    public func decode(_ bytes: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>) throws(CodecError) {
        guard bytes.count == destination.count * 4 else {
            throw .size(codec: name, bytes: bytes.count, expected: "\(destination.count * 4) (\(destination.count) floats)")
        }
        for index in destination.indices {
            destination[index] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
        }
    }
}
