import Foundation
import Reports

/// How far an epoch has got: what the training loop knows after each mini-batch.
struct BatchProgress: Sendable, Equatable {
    var epoch: Int
    /// Mini-batches done in this epoch, 1-based.
    var batch: Int
    var batches: Int
    /// Training samples done in this epoch.
    var samples: Int
    /// The mean loss over this epoch's samples so far.
    var meanLoss: Double
    /// Seconds since the epoch started.
    var seconds: Double
}

/// A one-line progress bar for an epoch on a terminal, redrawn in place with `\r`:
///
///     Epoch  3/10 [###.....] 412/938   231473 samples/s  loss 0.6123     ETA     0:12
///
/// It draws only when enabled and standard output is a terminal, at most ten times a second; log
/// lines printed through `log` appear above it. Otherwise `log` prints plain lines and nothing else.
final class ProgressBar {
    let epochs: Int
    private let output: TerminalOutput
    private let clock: () -> Double
    private var throttle: RedrawThrottle
    private var shown: BatchProgress?
    private var drawnWidth = 0

    /// Whether the bar draws at all: enabled and on a terminal.
    let isDrawing: Bool

    init(epochs: Int, enabled: Bool = true, output: TerminalOutput = .standardOutput, redrawInterval: Double = 0.1,
         clock: @escaping () -> Double = monotonicSeconds) {
        self.epochs = epochs
        self.output = output
        self.clock = clock
        throttle = RedrawThrottle(interval: redrawInterval)
        isDrawing = enabled && output.isTerminal
    }

    /// Records the progress after a mini-batch and redraws when the last drawing is old enough.
    func update(_ progress: BatchProgress) {
        guard isDrawing else { return }
        shown = progress
        if throttle.allows(at: clock()) { draw() }
    }

    /// Prints a whole line above the bar (or, when not drawing, just prints it).
    func log(_ line: String) {
        guard isDrawing else {
            print(line)
            return
        }
        erase()
        output.write(line + "\n")
        if shown != nil { draw() }
    }

    /// Removes the bar, leaving the cursor at the start of an empty line (after an epoch).
    func clear() {
        guard isDrawing else { return }
        erase()
        shown = nil
    }

    private func draw() {
        guard let shown else { return }
        let line = Self.line(shown, epochs: epochs, columns: output.columns)
        // Pad over a longer previous line (a terminal resized in between) so nothing of it stays.
        output.write("\r" + line + String(repeating: " ", count: max(0, drawnWidth - line.count)))
        drawnWidth = line.count
    }

    private func erase() {
        guard drawnWidth > 0 else { return }
        output.write("\r" + String(repeating: " ", count: drawnWidth) + "\r")
        drawnWidth = 0
    }

    // MARK: Rendering

    /// The bar's text for `progress` in a terminal `columns` wide: always shorter than `columns`, and
    /// of one length for every progress of a run (the fields have fixed widths).
    static func line(_ progress: BatchProgress, epochs: Int, columns: Int) -> String {
        let epochField = "Epoch " + padded(progress.epoch, like: epochs) + "/\(epochs)"
        let countField = padded(progress.batch, like: progress.batches) + "/\(progress.batches)"
        let rate = progress.seconds > 0 ? Double(progress.samples) / progress.seconds : 0
        let rateField = leftPadded(String(Int(min(rate, 9_999_999).rounded())), to: 7) + " samples/s"
        let lossField = "loss " + rightPadded(lossText(progress.meanLoss), to: 9)
        let etaField = "ETA " + leftPadded(timeLeft(progress), to: 8)
        let tail = [countField, rateField, lossField, etaField].joined(separator: "  ")
        // The bar takes what is left of the line, between 6 and 30 characters.
        let barWidth = min(30, max(6, columns - 1 - epochField.count - tail.count - 4))
        let filled = progress.batches > 0 ? min(barWidth, barWidth * progress.batch / progress.batches) : 0
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled) + "]"
        let line = epochField + " " + bar + " " + tail
        return line.count < columns ? line : String(line.prefix(max(columns - 1, 0)))
    }

    /// The epoch's remaining time at its rate so far, as m:ss or h:mm:ss; "--:--" before the first batch
    /// or beyond 99 hours.
    static func timeLeft(_ progress: BatchProgress) -> String {
        guard progress.batch > 0, progress.seconds > 0 else { return "--:--" }
        let left = progress.seconds / Double(progress.batch) * Double(max(progress.batches - progress.batch, 0))
        guard left.isFinite, left < 360_000 else { return "--:--" }
        let total = Int(left.rounded())
        let hours = total / 3600, minutes = total / 60 % 60, seconds = total % 60
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, seconds) : String(format: "%d:%02d", minutes, seconds)
    }

    /// A loss in at most 9 characters: four decimals, or exponent form for small values, as the epoch line prints it.
    static func lossText(_ loss: Double) -> String {
        guard loss.isFinite else { return loss.isNaN ? "nan" : loss > 0 ? "inf" : "-inf" }
        if abs(loss) >= 10_000 { return String(format: "%.3e", loss) }
        return format(loss)
    }

    private static func padded(_ value: Int, like total: Int) -> String {
        leftPadded(String(value), to: String(total).count)
    }

    private static func leftPadded(_ text: String, to width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    private static func rightPadded(_ text: String, to width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }
}
