import Foundation

/// Appends one JSON object per line to a metrics file, flushed at once so a crash loses nothing written.
final class MetricsLog {
    private let handle: FileHandle

    /// Creates (or truncates) the file; with `appending`, adds to an existing file instead.
    init(path: String, appending: Bool = false) throws {
        if !(appending && FileManager.default.fileExists(atPath: path)) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw CLIError("cannot create the metrics file \(path)")
            }
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        if appending { try handle.seekToEnd() }
    }

    deinit { try? handle.close() }

    /// Writes one event: `event` first, then the fields in the order given.
    func write(event: String, _ fields: KeyValuePairs<String, MetricValue>) {
        var line = "{\"event\":\"\(event)\""
        for (key, value) in fields { line += ",\"\(key)\":\(value.json)" }
        line += "}\n"
        handle.write(Data(line.utf8))
    }
}

/// A value in a metrics line.
enum MetricValue {
    case number(Double)
    /// A Float written with its shortest round-trip digits (0.01, not 0.009999999776).
    case float(Float)
    case integer(Int)
    case flag(Bool)
    case text(String)
    case list([MetricValue])
    /// Keys and values in the order given.
    case object([(String, MetricValue)])

    var json: String {
        switch self {
        case .number(let value): value.isFinite ? "\(value)" : "null"
        case .float(let value): value.isFinite ? "\(value)" : "null"
        case .integer(let value): "\(value)"
        case .flag(let value): value ? "true" : "false"
        case .text(let value):
            "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        case .list(let values): "[" + values.map(\.json).joined(separator: ",") + "]"
        case .object(let fields): "{" + fields.map { "\"\($0.0)\":\($0.1.json)" }.joined(separator: ",") + "}"
        }
    }
}

/// A user-facing failure with a message and a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
