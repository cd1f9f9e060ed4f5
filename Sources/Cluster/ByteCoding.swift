/// Appends fixed-width little-endian values to a byte array.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    mutating func append<Value: FixedWidthInteger>(_ value: Value) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ value: Double) {
        append(value.bitPattern)
    }

    mutating func append(contentsOf other: [UInt8]) {
        bytes.append(contentsOf: other)
    }
}

extension UnsafeRawBufferPointer {
    /// The little-endian integer at `offset`; the caller has checked the bounds.
    func loadLittleEndian<Value: FixedWidthInteger>(fromByteOffset offset: Int, as type: Value.Type) -> Value {
        Value(littleEndian: loadUnaligned(fromByteOffset: offset, as: Value.self))
    }

    /// The little-endian float64 at `offset`; the caller has checked the bounds.
    func loadLittleEndianDouble(fromByteOffset offset: Int) -> Double {
        Double(bitPattern: loadLittleEndian(fromByteOffset: offset, as: UInt64.self))
    }
}
