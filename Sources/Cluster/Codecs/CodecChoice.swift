/// A codec as a run names it: `none`, `bf16`, `fp16` or `topk:FRACTION` (0 < FRACTION ≤ 1).
public enum CodecChoice: Sendable, Hashable, CustomStringConvertible {
    case none
    case bf16
    case fp16
    case topK(fraction: Double)

    /// The names `init(parsing:)` takes, for help texts.
    public static let syntax = "none, bf16, fp16 or topk:FRACTION (0 < FRACTION <= 1, e.g. topk:0.01)"

    /// Parses a codec name; the error says what is accepted.
    public init(parsing text: String) throws(CodecChoiceError) {
        switch text {
        case "none": self = .none
        case "bf16": self = .bf16
        case "fp16": self = .fp16
        default:
            guard text.hasPrefix("topk:") else { throw CodecChoiceError(text: text, reason: "unknown codec") }
            guard let fraction = Double(text.dropFirst("topk:".count)), fraction.isFinite else {
                throw CodecChoiceError(text: text, reason: "the fraction after topk: is not a number")
            }
            guard fraction > 0 && fraction <= 1 else { throw CodecChoiceError(text: text, reason: "the fraction must lie in (0, 1]") }
            self = .topK(fraction: fraction)
        }
    }

    /// The codec this choice names.
    public var codec: any Codec {
        switch self {
        case .none: DenseCodec()
        case .bf16: BFloat16Codec()
        case .fp16: Float16Codec()
        case .topK(let fraction): TopKCodec(fraction: fraction)
        }
    }

    /// Whether frames of this codec give back every value bit for bit.
    public var isLossless: Bool { codec.isLossless }

    /// The name as `init(parsing:)` reads it.
    public var description: String {
        switch self {
        case .none: "none"
        case .bf16: "bf16"
        case .fp16: "fp16"
        case .topK(let fraction): "topk:\(fraction)"
        }
    }
}

/// A codec name that does not parse.
public struct CodecChoiceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text given.
    public var text: String
    /// What is wrong with it.
    public var reason: String

    public var description: String { "\"\(text)\" is not a codec: \(reason) (expected \(CodecChoice.syntax))" }
}

extension CodecChoice: Codable {
    /// Decodes a codec from its name, as `--compress` takes it.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try CodecChoice(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    /// Encodes the codec as its name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
