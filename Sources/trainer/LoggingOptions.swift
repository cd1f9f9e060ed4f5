import ArgumentParser
import Logging
import Synchronization

/// The flags of every command that logs (local, server, worker): the lowest level shown and the lines' format.
struct LoggingOptions: ParsableArguments {
    @Option(help: "The lowest level of log line shown on standard error: trace, debug, info, notice, warning, error or critical (trace: also every message sent and received, as --verbose).")
    var logLevel: Logger.Level = .info

    @Option(help: "text: log lines as people read them; json: one JSON object per line (time, level, label, message, and rank, step or peer where they apply) for a log collector.")
    var logFormat: LineLogHandler.Format = .text

    /// Makes swift-log write through `LineLogHandler` at this level (trace with `verbose`), once per process.
    func bootstrap(verbose: Bool = false) {
        let level = verbose ? Logger.Level.trace : logLevel, format = logFormat
        Self.bootstrapped.withLock { done in
            guard !done else { return }
            LoggingSystem.bootstrap { LineLogHandler(label: $0, level: level, format: format) }
            done = true
        }
    }

    private static let bootstrapped = Mutex(false)
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension LineLogHandler.Format: ExpressibleByArgument {}
