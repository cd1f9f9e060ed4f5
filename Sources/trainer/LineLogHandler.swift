import Foundation
import Logging

/// Formats log events for people (the message alone, as `trainer` always printed it) or for log collectors
/// (one JSON object a line), and writes them to standard error, through the live display when one is drawn.
struct LineLogHandler: LogHandler {
    /// How a line is written.
    enum Format: String, CaseIterable, Sendable {
        /// The message alone: what a terminal has always shown.
        case text
        /// One JSON object per line: time, level, label, message and metadata.
        case json
    }

    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    let label: String
    let format: Format

    init(label: String, level: Logger.Level, format: Format) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { $1 } }
        if let own = event.metadata { fields.merge(own) { $1 } }
        let line: String
        switch format {
        case .text: line = "\(event.message)"
        case .json: line = Self.json(event: event, label: label, metadata: fields)
        }
        LogSink.shared.write(line)
    }

    /// The JSON object of one event: `time` (ISO 8601, UTC), `level`, `label`, `message`, then the metadata's keys.
    static func json(event: LogEvent, label: String, metadata: Logger.Metadata) -> String {
        var object: [String: Any] = [:]
        for (key, value) in metadata { object[key] = jsonValue(value) }
        object["time"] = Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date())
        object["level"] = event.level.rawValue
        object["label"] = label
        object["message"] = "\(event.message)"
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    private static func jsonValue(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text):
            // Numbers stay numbers for the collector.
            if let number = Int(text) { return number }
            return text
        case .stringConvertible(let convertible):
            if let number = convertible as? Int { return number }
            if let number = convertible as? Double { return number.isFinite ? number : "\(number)" }
            return "\(convertible)"
        case .array(let values): return values.map(jsonValue)
        case .dictionary(let values): return values.mapValues(jsonValue)
        }
    }
}
