import Foundation

/// A JSON value as read from a metrics line.
enum JSONValue: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The value if it is a whole number.
    var integer: Int? {
        if case .number(let value) = self { return Int(exactly: value) }
        return nil
    }

    /// The value as a person reads it: whole numbers without a decimal point, strings without quotes.
    var text: String {
        if case .string(let value) = self { return value }
        return description
    }

    /// The value written as JSON (keys sorted), whole numbers without a decimal point.
    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .number(let value): Int(exactly: value).map(String.init) ?? "\(value)"
        case .string(let value): Self.quoted(value)
        case .array(let values): "[" + values.map(\.description).joined(separator: ",") + "]"
        case .object(let fields): "{" + fields.keys.sorted().map { "\(Self.quoted($0)):\(fields[$0]!)" }.joined(separator: ",") + "}"
        }
    }

    /// `text` as a JSON string, as the metrics writer quotes it.
    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
