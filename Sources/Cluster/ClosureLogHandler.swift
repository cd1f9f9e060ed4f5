import Logging

/// A log handler that hands each message, without level or metadata, to closures: lines at info and
/// above to `log`, trace and debug lines to `trace` (dropped when there is none). For tests and simple embedders.
public struct ClosureLogHandler: LogHandler {
    /// The lowest level passed on: trace when `trace` is given, else info.
    public var logLevel: Logger.Level
    /// Metadata set on the logger (not passed on).
    public var metadata: Logger.Metadata = [:]
    /// Not consulted: the closures get the message alone.
    public var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (String) -> Void
    private let trace: (@Sendable (String) -> Void)?

    /// A handler writing to `log`, and trace and debug lines to `trace` if given.
    public init(log: @escaping @Sendable (String) -> Void, trace: (@Sendable (String) -> Void)? = nil) {
        self.write = log
        self.trace = trace
        self.logLevel = trace == nil ? .info : .trace
    }

    /// The metadata value for `key`.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Passes the event's message on.
    public func log(event: LogEvent) {
        if event.level >= .info { write("\(event.message)") } else { trace?("\(event.message)") }
    }
}

extension Logger {
    /// A logger whose messages go to `log` (trace and debug ones to `trace`), as `ClosureLogHandler` does.
    public static func lines(_ log: @escaping @Sendable (String) -> Void, trace: (@Sendable (String) -> Void)? = nil,
                             label: String = "trainer") -> Logger {
        Logger(label: label) { _ in ClosureLogHandler(log: log, trace: trace) }
    }

    /// A logger that drops every message.
    public static let discarding = Logger(label: "trainer.discarded") { _ in SwiftLogNoOpLogHandler() }
}
