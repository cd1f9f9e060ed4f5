/// An IDX file (the MNIST format): a big-endian header of magic (0, 0, type, rank) and dimension
/// sizes, then unsigned bytes.
public struct IDXFile {
    /// The size of each dimension, outermost first.
    public let dimensions: [Int]
    /// The elements, row-major.
    public let bytes: ArraySlice<UInt8>

    /// Reads and checks an IDX file of unsigned bytes with the expected rank (gzip or plain).
    public init(path: String, rank: Int) throws {
        let data = try CompressedFile.read(path)
        try self.init(data: data, rank: rank, path: path)
    }

    /// Checks raw IDX bytes; `path` names the source in errors.
    public init(data: [UInt8], rank: Int, path: String) throws {
        func fail(_ reason: String) -> DatasetError { DatasetError(path: path, reason: reason) }
        guard data.count >= 4 else { throw fail("truncated: \(data.count) bytes, too short for an IDX header") }
        let magic = data[0..<4].map { String(format2($0)) }.joined()
        guard data[0] == 0, data[1] == 0 else { throw fail("wrong magic number 0x\(magic): not an IDX file") }
        guard data[2] == 0x08 else { throw fail("wrong magic number 0x\(magic): element type 0x\(format2(data[2])) is not unsigned byte (0x08)") }
        guard Int(data[3]) == rank else {
            throw fail("wrong magic number 0x\(magic): \(data[3]) dimensions, expected \(rank) (\(rank == 3 ? "images" : "labels"))")
        }
        let headerSize = 4 + 4 * rank
        guard data.count >= headerSize else { throw fail("truncated: \(data.count) bytes, the header alone needs \(headerSize)") }
        var dimensions: [Int] = []
        for d in 0..<rank {
            let o = 4 + 4 * d
            dimensions.append(Int(data[o]) << 24 | Int(data[o + 1]) << 16 | Int(data[o + 2]) << 8 | Int(data[o + 3]))
        }
        // A hostile header can declare more elements than any file holds (0xFFFFFFFF³ overflows Int).
        var expected = 1
        for dimension in dimensions {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw fail("the header declares \(dimensions.map(String.init).joined(separator: "×")) elements, more than any file can hold")
            }
            expected = product
        }
        let available = data.count - headerSize
        guard available >= expected else {
            throw fail("truncated: header declares \(dimensions.map(String.init).joined(separator: "×")) = \(expected) bytes of data, file has \(available)")
        }
        guard available == expected else {
            throw fail("\(available - expected) unexpected bytes after the \(expected) bytes the header declares")
        }
        self.dimensions = dimensions
        self.bytes = data[headerSize...]
    }
}

private func format2(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}
