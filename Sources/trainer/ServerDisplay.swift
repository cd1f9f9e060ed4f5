import Cluster
import Foundation

/// What a parameter server shows on a terminal while it trains: a block with each worker's step, rate,
/// traffic and last heartbeat, and under it the epoch's progress bar. Server log lines and epoch lines are
/// printed above them. Off a terminal (or with --no-progress) it is not made at all.
///
/// The server shows its status from its actor and clears the display from its reporting thread
/// (epoch ends) and wherever a log line is written, so every use takes `lock`.
final class ServerDisplay: @unchecked Sendable {
    // Unchecked: every field is used under `lock`.
    private let lock = NSLock()
    private let bar: ProgressBar
    private let board: WorkerStatusBoard
    private let batchSizePerWorker: Int
    private let sampleCount: Int
    private var epochStart: (epoch: Int, seconds: Double)?

    /// A display for a run of `epochs` epochs over `sampleCount` samples, its workers' progress counted
    /// in `stepHeader`s ("step", or "round" in local SGD), or nil when standard output is not a
    /// terminal or `enabled` is false.
    init?(epochs: Int, sampleCount: Int, batchSizePerWorker: Int, stepHeader: String = "step", enabled: Bool) {
        board = WorkerStatusBoard(stepHeader: stepHeader, redrawInterval: 0)
        let bar = ProgressBar(epochs: epochs, enabled: enabled, redrawInterval: 0)
        guard bar.isDrawing else { return nil }
        self.bar = bar
        self.sampleCount = sampleCount
        self.batchSizePerWorker = batchSizePerWorker
    }

    /// Redraws the workers' block and the progress bar for `status`.
    func show(_ status: ServerStatus) {
        lock.withLock { draw(status) }
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
        lock.withLock {
            bar.clear()
            board.clear()
        }
    }
}
