import Cluster
import Foundation

/// What a parameter server shows on a terminal while it trains: a block with each worker's step, rate,
/// traffic and last heartbeat, and under it the epoch's progress bar. Server log lines and epoch lines are
/// printed above them. Off a terminal (or with --no-progress) it is not made at all.
///
/// The server shows its status from its actor and prints above the display from its reporting thread
/// (epoch ends) and wherever a log line is written, so every use takes `lock`; while lines are printed
/// above it the display draws nothing (a status drawn between the clearing and the line would glue
/// the line to the block's last row), and the server's thread never waits for the printing.
final class ServerDisplay: @unchecked Sendable {
    // Unchecked: every field is used under `lock`.
    private let lock = NSLock()
    private let bar: ProgressBar
    private let board: WorkerStatusBoard
    private let batchSizePerWorker: Int
    private let sampleCount: Int
    private var epochStart: (epoch: Int, seconds: Double)?
    /// How many `printingAbove` calls are under way; the display draws only when none is.
    private var printing = 0

    /// A display for a run of `epochs` epochs over `sampleCount` samples, its workers' progress counted
    /// in `stepHeader`s ("step", or "round" in local SGD), or nil when standard output is not a
    /// terminal or `enabled` is false. It draws on `output`.
    init?(epochs: Int, sampleCount: Int, batchSizePerWorker: Int, stepHeader: String = "step", enabled: Bool,
          output: TerminalOutput = .standardOutput) {
        board = WorkerStatusBoard(output: output, stepHeader: stepHeader, redrawInterval: 0)
        let bar = ProgressBar(epochs: epochs, enabled: enabled, output: output, redrawInterval: 0)
        guard bar.isDrawing else { return nil }
        self.bar = bar
        self.sampleCount = sampleCount
        self.batchSizePerWorker = batchSizePerWorker
    }

    /// Redraws the workers' block and the progress bar for `status`.
    func show(_ status: ServerStatus) {
        lock.withLock { if printing == 0 { draw(status) } }
    }

    private func draw(_ status: ServerStatus) {
        let now = monotonicSeconds()
        if epochStart?.epoch != status.epoch { epochStart = (status.epoch, now) }
        bar.clear()
        board.update(status.workers.map {
            WorkerStatusBoard.Worker(rank: $0.rank, step: $0.step, samplesPerSecond: $0.samplesPerSecond,
                                     secondsSinceHeartbeat: $0.secondsSinceHeard, stragglingSeconds: $0.stragglingSeconds,
                                     megabytesPerSecond: $0.bytesPerSecond / 1e6)
        })
        guard let loss = status.loss else { return }
        let batches = max(1, (sampleCount + max(status.worldSize, 1) * batchSizePerWorker - 1) / (max(status.worldSize, 1) * batchSizePerWorker))
        bar.update(BatchProgress(epoch: status.epoch, batch: min(batches, Int(status.epochProgress * Double(batches))), batches: batches,
                                 samples: Int(status.epochProgress * Double(sampleCount)), meanLoss: loss,
                                 seconds: now - (epochStart?.seconds ?? now)))
    }

    /// Removes the block and the bar, so that a whole line can be printed; the next status draws them again.
    func clear() {
        lock.withLock(wipe)
    }

    /// Removes the block and the bar and draws nothing while `body` prints its lines; the next status
    /// after it draws them again.
    func printingAbove<Result>(_ body: () throws -> Result) rethrows -> Result {
        lock.withLock {
            printing += 1
            wipe()
        }
        defer { lock.withLock { printing -= 1 } }
        return try body()
    }

    /// Removes the bar and the block; called under `lock`.
    private func wipe() {
        bar.clear()
        board.clear()
    }
}
