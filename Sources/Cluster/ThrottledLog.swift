import Foundation
import Logging

/// Writes the log lines that peers cause (dropped, refused, rejected messages) at most `limit` a
/// second; the rest are counted and summarised, so a peer that floods bad messages cannot flood the log.
final class ThrottledLog: @unchecked Sendable {
    // Unchecked: the counters are guarded by `lock`.
    private let lock = NSLock()
    private let limit: Int?
    private let logger: Logger
    private var windowStart = ContinuousClock.now
    private var written = 0
    private var suppressed = 0

    /// A log of at most `limit` lines a second (nil: every line) through `logger`.
    init(limit: Int?, logger: Logger) {
        self.limit = limit
        self.logger = logger
    }

    /// Writes `line` at `level` with `metadata`, unless this second's allowance is used up.
    func callAsFunction(_ line: String, level: Logger.Level = .warning, metadata: Logger.Metadata = [:]) {
        let (summary, pass): (String?, Bool) = lock.withLock {
            guard let limit else { return (nil, true) }
            var summary: String?
            let now = ContinuousClock.now
            if now - windowStart >= .seconds(1) {
                summary = summaryLocked()
                windowStart = now
                written = 0
            }
            guard written < limit else {
                suppressed += 1
                return (summary, false)
            }
            written += 1
            return (summary, true)
        }
        if let summary { logger.warning("\(summary)") }
        if pass { logger.log(level: level, "\(line)", metadata: metadata) }
    }

    /// Writes the summary of lines held back, if any.
    func flush() {
        if let summary = lock.withLock({ summaryLocked() }) { logger.warning("\(summary)") }
    }

    private func summaryLocked() -> String? {
        guard suppressed > 0, let limit else { return nil }
        defer { suppressed = 0 }
        return "parameter server: \(suppressed) more lines about dropped, refused or rejected messages not shown "
            + "(at most \(limit) a second)"
    }
}
