/// How a vector of floats (a gradient, a weight delta) is written to a frame and read back.
///
/// A codec is a value: the same one encodes on one side and decodes on the other. Decoding checks
/// everything it reads (sizes, indices), so a frame that lies is an error, never a wrong update.
public protocol Codec: Sendable {
    /// The name `--compress` takes, for example `bf16` or `topk:0.01`.
    var name: String { get }
    /// Whether decoding gives back every value bit for bit.
    var isLossless: Bool { get }
    /// The bytes of `values`.
    func encode(_ values: UnsafeBufferPointer<Float>) -> [UInt8]
    /// Writes the `destination.count` values that `bytes` encodes into `destination`.
    func decode(_ bytes: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>) throws(CodecError)
}

extension Codec {
    /// The bytes of `values`.
    public func encode(_ values: [Float]) -> [UInt8] {
        values.withUnsafeBufferPointer { encode($0) }
    }

    /// The `count` values that `bytes` encodes.
    public func decode(_ bytes: [UInt8], count: Int) throws(CodecError) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        let result = bytes.withUnsafeBytes { raw in
            values.withUnsafeMutableBufferPointer { destination in
                Result { () throws(CodecError) in try decode(raw, into: destination) }
            }
        }
        try result.get()
        return values
    }
}

/// Why a compressed frame was refused; each description names what was wrong.
public enum CodecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The frame has another size than its codec and value count allow.
    case size(codec: String, bytes: Int, expected: String)
    /// A sparse frame names more values than the vector has.
    case tooManyValues(codec: String, count: Int, limit: Int)
    /// A sparse frame's index is out of range or not above the one before it.
    case badIndex(codec: String, position: Int, index: UInt32, count: Int)

    /// A sentence naming the codec and the problem.
    public var description: String {
        switch self {
        case .size(let codec, let bytes, let expected):
            "\(codec) frame has \(bytes) bytes, expected \(expected)"
        case .tooManyValues(let codec, let count, let limit):
            "\(codec) frame names \(count) values, more than the \(limit) of the vector"
        case .badIndex(let codec, let position, let index, let count):
            "\(codec) frame's index \(position) is \(index): not above the one before it, or not below \(count)"
        }
    }
}
