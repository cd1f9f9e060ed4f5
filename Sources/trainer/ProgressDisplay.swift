import Datasets
import Foundation

/// Shows one file's download: on a terminal an updating line (bytes done/total, rate, time left),
/// otherwise a plain line when it starts and one when it ends. Events arrive on URLSession's queue.
final class ProgressDisplay: @unchecked Sendable {
    private let name: String, url: String, destination: String, onTerminal: Bool
    private let lock = NSLock()
    private var startedAt = Date()
    private var resumedFrom: Int64 = 0
    private var lineShown = false

    init(name: String, url: String, destination: String, onTerminal: Bool) {
        self.name = name
        self.url = url
        self.destination = destination
        self.onTerminal = onTerminal
    }

    func handle(_ event: DownloadEvent) {
        lock.withLock {
            switch event {
            case let .started(resumedFrom, expected):
                startedAt = Date()
                self.resumedFrom = resumedFrom
                let size = expected.map { " (\(Self.megabytes($0)))" } ?? ""
                if resumedFrom > 0 {
                    print("\(name): resuming \(url) at byte \(resumedFrom)\(size)")
                } else {
                    print("\(name): downloading \(url)\(size)")
                }
            case let .progress(received, expected):
                guard onTerminal else { return }
                update(status(received: received, expected: expected))
            case .verifying:
                guard onTerminal else { return }
                update("\(name): checking the SHA-256 digest…")
            }
            fflush(nil)
        }
    }

    /// The closing line once the file is checked and in place.
    func finish(bytes: Int64, resumedFrom: Int64, seconds: TimeInterval) {
        lock.withLock {
            if lineShown { print("\r\u{1B}[K", terminator: "") }
            let fetched = bytes - resumedFrom
            let rate = seconds > 0 ? " (\(Self.megabytes(Int64(Double(fetched) / seconds)))/s)" : ""
            let resumed = resumedFrom > 0 ? ", \(resumedFrom) of them from the earlier partial download" : ""
            print("\(name): SHA-256 ok, \(bytes) bytes\(resumed), \(String(format: "%.1f", seconds)) s\(rate) -> \(destination)")
            fflush(nil)
        }
    }

    private func update(_ text: String) {
        print("\r\u{1B}[K" + text, terminator: "")
        lineShown = true
    }

    private func status(received: Int64, expected: Int64?) -> String {
        let elapsed = Date().timeIntervalSince(startedAt)
        let rate = elapsed > 0.05 ? Double(received - resumedFrom) / elapsed : 0
        var text = "\(name): \(Self.megabytes(received))"
        if let expected, expected > 0 {
            text += " / \(Self.megabytes(expected)) (\(received * 100 / expected)%)"
        }
        if rate > 0 {
            text += ", \(Self.megabytes(Int64(rate)))/s"
            if let expected, expected > received {
                let left = Int(Double(expected - received) / rate)
                text += ", \(left / 60):\(String(format: "%02d", left % 60)) left"
            }
        }
        return text
    }

    /// `12.3 MB` (10⁶ bytes), or `29.5 kB` below a megabyte.
    static func megabytes(_ bytes: Int64) -> String {
        bytes < 1_000_000 ? String(format: "%.1f kB", Double(bytes) / 1_000) : String(format: "%.1f MB", Double(bytes) / 1_000_000)
    }
}
