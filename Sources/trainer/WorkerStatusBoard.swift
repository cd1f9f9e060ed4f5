import Foundation

/// A compact block of lines, one per worker, that a parameter server redraws in place on a terminal:
///
///     rank      step    samples/s     MB/s    heartbeat
///        0      4690       115000     12.3    0.2 s ago
///        1      4689       114800     12.3   12.5 s ago
///
/// The caller feeds it plain values whenever it likes; it draws only on a terminal, at most ten
/// times a second, moving the cursor up over its previous block (ANSI escapes).
final class WorkerStatusBoard {
    /// What the board shows of one worker.
    struct Worker: Sendable, Equatable {
        var rank: Int
        /// Steps (gradients pushed) so far; in local SGD, rounds (deltas pushed).
        var step: Int
        var samplesPerSecond: Double
        /// Seconds since the server last heard from the worker; nil when it never has.
        var secondsSinceHeartbeat: Double?
        /// How long the step has waited on this worker alone, when it is a straggler.
        var stragglingSeconds: Double?
        /// Megabytes per second between the server and the worker, both ways.
        var megabytesPerSecond: Double

        init(rank: Int, step: Int, samplesPerSecond: Double, secondsSinceHeartbeat: Double?, stragglingSeconds: Double? = nil,
             megabytesPerSecond: Double = 0) {
            self.megabytesPerSecond = megabytesPerSecond
            self.rank = rank
            self.step = step
            self.samplesPerSecond = samplesPerSecond
            self.secondsSinceHeartbeat = secondsSinceHeartbeat
            self.stragglingSeconds = stragglingSeconds
        }
    }

    private let output: TerminalOutput
    /// The second column's title: "step", or "round" in local SGD.
    private let stepHeader: String
    private let clock: () -> Double
    private var throttle: RedrawThrottle
    private var linesDrawn = 0

    /// Whether the board draws at all: on a terminal only.
    var isDrawing: Bool { output.isTerminal }

    init(output: TerminalOutput = .standardOutput, stepHeader: String = "step", redrawInterval: Double = 0.1,
         clock: @escaping () -> Double = monotonicSeconds) {
        self.output = output
        self.stepHeader = stepHeader
        self.clock = clock
        throttle = RedrawThrottle(interval: redrawInterval)
    }

    /// Redraws the block with `workers` (in the order given) when on a terminal and the last drawing is old enough.
    func update(_ workers: [Worker]) {
        guard isDrawing, throttle.allows(at: clock()) else { return }
        output.write(frame(workers))
    }

    /// Removes the block, leaving the cursor where it began.
    func clear() {
        guard isDrawing, linesDrawn > 0 else { return }
        output.write(Self.cursorUp(linesDrawn) + "\r\u{1B}[J")
        linesDrawn = 0
    }

    /// The text that replaces the previous block with one for `workers`: up over the old lines,
    /// clear to the end of the screen, the new lines.
    func frame(_ workers: [Worker]) -> String {
        let lines = Self.lines(workers, stepHeader: stepHeader, columns: output.columns)
        let text = (linesDrawn > 0 ? Self.cursorUp(linesDrawn) : "") + "\r\u{1B}[J" + lines.map { $0 + "\n" }.joined()
        linesDrawn = lines.count
        return text
    }

    // MARK: Rendering

    /// The header and one line per worker, each column of a fixed width, each line shorter than `columns`.
    static func lines(_ workers: [Worker], stepHeader: String = "step", columns: Int = 80) -> [String] {
        let header = "rank" + leftPadded(stepHeader, to: 10) + leftPadded("samples/s", to: 13) + leftPadded("MB/s", to: 9) + "  "
            + leftPadded("heartbeat", to: 11)
        let rows = workers.map { worker in
            leftPadded(String(worker.rank), to: 4) + leftPadded(String(worker.step), to: 10)
                + leftPadded(String(Int(min(max(worker.samplesPerSecond, 0), 1e12).rounded())), to: 13)
                + leftPadded(String(format: "%.1f", min(max(worker.megabytesPerSecond, 0), 1e9)), to: 9)
                + "  " + heartbeat(worker.secondsSinceHeartbeat)
                + (worker.stragglingSeconds.map { String(format: "  straggler: waited on for %.1f s", $0) } ?? "")
        }
        return ([header] + rows).map { $0.count < columns ? $0 : String($0.prefix(max(columns - 1, 0))) }
    }

    /// "0.2 s ago", or "never", right-aligned to eleven characters.
    static func heartbeat(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return leftPadded("never", to: 11) }
        let text = seconds < 1000 ? String(format: "%.1f s ago", seconds) : String(format: "%.0f s ago", seconds)
        return leftPadded(text, to: 11)
    }

    private static func cursorUp(_ lines: Int) -> String { "\u{1B}[\(lines)A" }

    private static func leftPadded(_ text: String, to width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
