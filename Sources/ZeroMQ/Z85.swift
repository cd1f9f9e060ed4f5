import CZeroMQ

/// Z85 text (ZeroMQ RFC 32), the form CURVE keys are written in: 40 characters for 32 bytes.
enum Z85 {
    /// The characters of a Z85 key.
    static let keyLength = 40
    /// The bytes of a CURVE key.
    static let keyBytes = 32

    /// Z85's 85 digits in value order.
    static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".unicodeScalars)

    private static let digitValues: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 128)
        for (value, scalar) in alphabet.enumerated() { table[Int(scalar.value)] = UInt8(value) }
        return table
    }()

    /// Why a text is not a Z85 key; no case carries any of the text itself.
    enum Problem: Equatable, Sendable {
        /// The text has this many characters instead of 40.
        case length(Int)
        /// The character at this 1-based position is not one of Z85's 85 digits.
        case character(position: Int)
        /// The five characters starting at this 1-based position encode a value above 2³² − 1.
        case overflow(position: Int)

        /// For example "has 39 characters instead of 40".
        var explanation: String {
            switch self {
            case .length(let count): "has \(count) characters instead of \(Z85.keyLength)"
            case .character(let position): "has a character outside the Z85 alphabet at position \(position)"
            case .overflow(let position): "is not valid Z85: the group of five characters at position \(position) is out of range"
            }
        }
    }

    /// Why `text` is not a 40-character Z85 key, or nil if it is one.
    static func keyProblem(_ text: some StringProtocol) -> Problem? {
        let scalars = text.unicodeScalars
        guard scalars.count == keyLength else { return .length(text.count) }
        var group: UInt64 = 0
        for (index, scalar) in scalars.enumerated() {
            guard scalar.isASCII, case let digit = digitValues[Int(scalar.value)], digit != 0xFF else {
                return .character(position: index + 1)
            }
            group = group * 85 + UInt64(digit)
            if index % 5 == 4 {
                if group > UInt64(UInt32.max) { return .overflow(position: index - 3) }
                group = 0
            }
        }
        return nil
    }

    /// The 32 bytes of the Z85 key `text` (`zmq_z85_decode`), or nil if it is not one.
    static func decodeKey(_ text: String) -> [UInt8]? {
        guard keyProblem(text) == nil else { return nil }
        var bytes = [UInt8](repeating: 0, count: keyBytes)
        let decoded = bytes.withUnsafeMutableBufferPointer { zmq_z85_decode($0.baseAddress, text) != nil }
        return decoded ? bytes : nil
    }

    /// The 40-character Z85 text of 32 key bytes (`zmq_z85_encode`), or nil for any other size.
    static func encodeKey(_ bytes: [UInt8]) -> String? {
        guard bytes.count == keyBytes else { return nil }
        var text = [CChar](repeating: 0, count: keyLength + 1)
        let encoded = bytes.withUnsafeBufferPointer { source in
            text.withUnsafeMutableBufferPointer { zmq_z85_encode($0.baseAddress, source.baseAddress, keyBytes) != nil }
        }
        return encoded ? String(decoding: text.prefix(keyLength).map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
    }
}
