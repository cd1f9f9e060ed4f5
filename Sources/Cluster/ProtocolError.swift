/// Why a received message was rejected; each description names the field and what was wrong.
public enum ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message has no frames at all (or, from a ROUTER, only the identity frame).
    case missingHeader
    /// A ROUTER message's identity frame is missing or has an impossible size.
    case badIdentity(bytes: Int)
    /// The header frame does not have exactly `MessageHeader.size` bytes.
    case headerSize(Int)
    /// The header does not start with "ATPS".
    case badMagic([UInt8])
    /// The sender speaks another protocol version; the server should answer with an error message.
    case versionMismatch(received: UInt16, supported: UInt16)
    /// The message type is not one this version defines.
    case unknownType(UInt16)
    /// Flags are set that the message type does not allow.
    case unexpectedFlags(MessageType, flags: UInt32)
    /// The sender id is impossible for the message type (for example a rank on a server message).
    case unexpectedSender(MessageType, sender: UInt32)
    /// The message is about another model than the receiver's.
    case fingerprintMismatch(received: UInt64, expected: UInt64)
    /// The step is beyond the sane bound.
    case stepOutOfRange(UInt64, limit: UInt64)
    /// The number of payload frames is wrong for the message type.
    case frameCount(MessageType, received: Int, expected: Int)
    /// The payload (declared or actual) exceeds the hard maximum message size.
    case payloadTooLarge(bytes: UInt64, limit: Int)
    /// The header's payload length differs from the sum of the payload frames' sizes.
    case payloadLengthMismatch(declared: UInt64, actual: Int)
    /// A fixed-size or bounded frame has a size outside what its field allows.
    case frameSize(frame: String, bytes: Int, expected: ClosedRange<Int>)
    /// A float32 frame has the wrong size: `expectedFloats` floats, or nil when any whole number of floats would do.
    case floatFrameSize(frame: String, bytes: Int, expectedFloats: Int?)
    /// A sample count is negative or beyond the sane bound.
    case sampleCountOutOfRange(field: String, value: UInt64, limit: Int)
    /// A loss is NaN or infinite.
    case nonFiniteLoss(bitPattern: UInt64)
    /// Another numeric field is outside its allowed range.
    case fieldOutOfRange(field: String, value: String, allowed: String)
    /// A JSON frame does not parse or lacks a required key.
    case invalidJSON(frame: String, reason: String)
    /// A text frame is not valid UTF-8.
    case invalidUTF8(frame: String)

    /// A sentence naming the field and the problem.
    public var description: String {
        switch self {
        case .missingHeader:
            "message has no header frame"
        case .badIdentity(let bytes):
            "identity frame has \(bytes) bytes, expected 1…255"
        case .headerSize(let bytes):
            "header frame has \(bytes) bytes, expected \(MessageHeader.size)"
        case .badMagic(let bytes):
            "header magic is \(bytes.map { String($0, radix: 16) }), expected \"ATPS\""
        case .versionMismatch(let received, let supported):
            "protocol version \(received) is not supported; this side speaks version \(supported)"
        case .unknownType(let raw):
            "message type \(raw) is unknown"
        case .unexpectedFlags(let type, let flags):
            "\(type) message has flags 0x\(String(flags, radix: 16)) that it does not allow"
        case .unexpectedSender(let type, let sender):
            "\(type) message has sender \(sender), which is not allowed for that type"
        case .fingerprintMismatch(let received, let expected):
            "model fingerprint is 0x\(String(received, radix: 16)), expected 0x\(String(expected, radix: 16)) (another model)"
        case .stepOutOfRange(let step, let limit):
            "step \(step) exceeds the limit \(limit)"
        case .frameCount(let type, let received, let expected):
            "\(type) message has \(received) payload frames, expected \(expected)"
        case .payloadTooLarge(let bytes, let limit):
            "payload of \(bytes) bytes exceeds the maximum of \(limit) bytes"
        case .payloadLengthMismatch(let declared, let actual):
            "header declares a payload of \(declared) bytes, but the payload frames have \(actual) bytes"
        case .frameSize(let frame, let bytes, let expected):
            expected.lowerBound == expected.upperBound
                ? "\(frame) frame has \(bytes) bytes, expected \(expected.lowerBound)"
                : "\(frame) frame has \(bytes) bytes, expected \(expected.lowerBound)…\(expected.upperBound)"
        case .floatFrameSize(let frame, let bytes, let expectedFloats?):
            "\(frame) frame has \(bytes) bytes, expected \(expectedFloats * 4) (\(expectedFloats) floats)"
        case .floatFrameSize(let frame, let bytes, nil):
            "\(frame) frame has \(bytes) bytes, expected a non-zero multiple of 4 (float32 values)"
        case .sampleCountOutOfRange(let field, let value, let limit):
            "\(field) is \(value), expected 0…\(limit)"
        case .nonFiniteLoss(let bitPattern):
            "loss is \(Double(bitPattern: bitPattern)), expected a finite number"
        case .fieldOutOfRange(let field, let value, let allowed):
            "\(field) is \(value), expected \(allowed)"
        case .invalidJSON(let frame, let reason):
            "\(frame) frame is not valid: \(reason)"
        case .invalidUTF8(let frame):
            "\(frame) frame is not valid UTF-8"
        }
    }
}
