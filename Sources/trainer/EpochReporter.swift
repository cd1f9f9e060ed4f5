import Cluster
import Datasets
import Engine
import Foundation
import Logging
import Metrics
import Reports

/// Turns a parameter server's end-of-epoch weights into what `trainer train` reports: test loss and
/// accuracy, the epoch line, the metrics event and the checkpoint.
///
/// The server calls `report` and the other event handlers on its reporting thread, one at a time and
/// in order, and `finish`, `stopped` and `failed` run once the server has returned (after the last
/// report); the state is never touched from two places at once, hence `@unchecked`.
final class EpochReporter: @unchecked Sendable {
    private let experiment: Experiment
    private let model: Model
    private let epochs: Int
    private let metricsLog: MetricsLog?
    private let checkpoint: String?
    private let plot: String?
    private var history: [EpochReport] = []
    private var trainingSeconds = 0.0
    private var last: (summary: EpochSummary, evaluation: Evaluation)?
    private var totalSamples = 0
    /// Each rank's statistics summed over the epochs reported so far.
    private(set) var rankTotals: [RankStatistics] = []
    /// The number of workers taking part, as last reported.
    private var worldSize: Int
    /// Why the last epoch's checkpoint could not be written, if it could not.
    private var checkpointFailure: String?
    /// Why the run diverged: the first epoch whose loss is not finite.
    private(set) var divergence: String?
    /// Called once when an epoch's loss is not finite, to stop the run.
    var onDivergence: (@Sendable () -> Void)?
    /// Runs its argument, which prints an epoch line, above a live display (nil: no display); set before the run.
    var printingAbove: (@Sendable (() -> Void) -> Void)?
    /// When the epoch in progress started: the first join, then each report's end.
    private var epochStarted: Date?
    /// The last epoch's test accuracy and loss, for the metrics endpoint (a no-op without one).
    private let testAccuracy = Gauge(label: "trainer_test_accuracy"), testLoss = Gauge(label: "trainer_test_loss")

    init(experiment: Experiment, model: Model, epochs: Int, workers: Int, metricsLog: MetricsLog?, checkpoint: String?, plot: String?) {
        self.plot = plot
        self.worldSize = workers
        self.experiment = experiment
        self.model = model
        self.epochs = epochs
        self.metricsLog = metricsLog
        self.checkpoint = checkpoint
    }

    /// Records a worker joining or being dropped: a `membership` metrics event.
    func membershipChanged(_ change: MembershipChange) {
        worldSize = change.worldSize
        if epochStarted == nil { epochStarted = Date() }
        metricsLog?.write(event: "membership", [
            "change": .text(change.kind.rawValue), "rank": .integer(change.rank), "step": .integer(change.step),
            "epoch": .integer(change.epoch), "world_size": .integer(change.worldSize),
            "silent_seconds": .number(change.silentSeconds ?? .nan),
        ])
    }

    /// Records a step that waited on one worker for longer than the threshold: a `straggler` metrics event.
    func straggler(_ straggler: Straggler) {
        metricsLog?.write(event: "straggler", [
            "rank": .integer(straggler.rank), "step": .integer(straggler.step), "seconds": .number(straggler.seconds),
        ])
    }

    /// Evaluates and reports one finished epoch.
    func report(_ summary: EpochSummary) {
        worldSize = summary.worldSize
        let seconds = summary.seconds
        trainingSeconds += seconds
        _ = model.parameters.update(from: summary.weights)
        let evaluation = model.evaluate(on: experiment.test, criterion: Criterion(experiment.objective))
        let samplesPerSecond = seconds > 0 ? Double(summary.samples) / seconds : 0
        let regression = experiment.objective == .regression
        let score = regression ? "" : "test accuracy \(String(format: "%.2f", 100 * evaluation.accuracy))%, "
        // As `trainer train` does: every epoch up to 20, else every tenth of the run, and the last.
        let reportEvery = epochs <= 20 ? 1 : epochs / 10
        if summary.epoch % reportEvery == 0 || summary.epoch == epochs {
            let line = "Epoch \(summary.epoch)/\(epochs): train loss \(format(summary.trainLoss)), test loss \(format(evaluation.loss)), "
                + score + "\(Int(samplesPerSecond.rounded())) samples/s"
            let write = {
                print(line)
                fflush(nil)
            }
            if let printingAbove { printingAbove(write) } else { write() }
        }
        if !regression { testAccuracy.record(evaluation.accuracy) }
        testLoss.record(evaluation.loss)
        metricsLog?.write(event: "epoch", [
            "epoch": .integer(summary.epoch), "train_loss": .number(summary.trainLoss), "test_loss": .number(evaluation.loss),
            "test_accuracy": .number(regression ? .nan : evaluation.accuracy), "samples_per_second": .number(samplesPerSecond),
            "seconds": .number(seconds), "world_size": .integer(summary.worldSize), "updates": .integer(summary.updates),
            "update_seconds": .number(summary.updateSeconds),
            "sent_bytes": .integer(summary.ranks.reduce(0) { $0 + $1.sentBytes }),
            "received_bytes": .integer(summary.ranks.reduce(0) { $0 + $1.receivedBytes }),
            "workers": Self.ranks(summary.ranks),
        ])
        if divergence == nil, let reason = Divergence.check(epoch: summary.epoch, trainLoss: summary.trainLoss, testLoss: evaluation.loss,
                                                           firstTrainLoss: history.first?.trainLoss, checkpoint: checkpoint) {
            divergence = reason
            onDivergence?()
        }
        if let checkpoint, divergence == nil {
            do {
                try model.save(to: checkpoint, metadata: ["format": "pt", "model": experiment.modelKind.rawValue,
                                                          "dataset": experiment.datasetKind.rawValue, "epoch": String(summary.epoch)])
                checkpointFailure = nil
            } catch {
                checkpointFailure = "\(error)"
                Logger(label: "trainer").error("trainer: \(error)")
            }
        }
        last = (summary, evaluation)
        history.append(EpochReport(epoch: summary.epoch, trainLoss: summary.trainLoss, test: evaluation,
                                   samplesPerSecond: samplesPerSecond, seconds: seconds))
        totalSamples += summary.samples
        epochStarted = Date()
        add(ranks: summary.ranks)
    }

    /// Adds per-rank counts to the run's totals.
    private func add(ranks: [RankStatistics]) {
        if rankTotals.count < ranks.count {
            rankTotals += .init(repeating: RankStatistics(), count: ranks.count - rankTotals.count)
        }
        for (rank, statistics) in ranks.enumerated() { rankTotals[rank].add(statistics) }
    }

    /// Ends a run stopped early (by a signal): writes the current weights to the checkpoint and a
    /// `stopped` metrics event, without evaluating; `unreported` are the per-rank counts of the steps
    /// after the last epoch reported, which the event's totals include.
    func stopped(reason: String, weights: [Float], updates: Int, unreported: [RankStatistics]) throws {
        _ = model.parameters.update(from: weights)
        add(ranks: unreported)
        print("Stopped by \(reason) after \(updates) updates (\(last?.summary.epoch ?? 0) of \(epochs) epochs finished)")
        metricsLog?.write(event: "stopped", [
            "reason": .text(reason), "updates": .integer(updates), "epochs": .integer(last?.summary.epoch ?? 0),
            "seconds": .number(secondsSoFar), "world_size": .integer(worldSize), "workers": Self.ranks(rankTotals),
        ])
        if let checkpoint {
            try model.save(to: checkpoint, metadata: ["format": "pt", "model": experiment.modelKind.rawValue,
                                                      "dataset": experiment.datasetKind.rawValue, "stopped": reason,
                                                      "updates": String(updates)])
            print("Saved the weights to \(checkpoint)")
        }
        fflush(nil)
    }

    /// The training seconds of the epochs reported and of the one in progress.
    private var secondsSoFar: Double { trainingSeconds + (epochStarted.map { Date().timeIntervalSince($0) } ?? 0) }

    /// Adds the seconds and samples of the epochs a resumed run finished before it was resumed, so
    /// the `done` event covers the whole run.
    func carryOver(seconds: Double, samples: Int) {
        trainingSeconds += seconds
        totalSamples += samples
    }

    /// Per-rank counts as a metrics list: steps, samples, (sync mode) seconds spent waiting for the others,
    /// staleness, rejections, and the bytes the server sent the rank and received from it.
    private static func ranks(_ ranks: [RankStatistics]) -> MetricValue {
        .list(ranks.enumerated().map { rank, statistics in
            .object([("rank", .integer(rank)), ("steps", .integer(statistics.pushes)), ("samples", .integer(statistics.samples)),
                     ("wait_seconds", .number(statistics.waitSeconds)),
                     ("mean_staleness", .number(Double(statistics.stalenessSum) / Double(max(statistics.pushes, 1)))),
                     ("max_staleness", .integer(statistics.maxStaleness)),
                     ("steps_ahead", .list(statistics.stepsAhead.map { .integer($0) })), ("rejected", .integer(statistics.rejected)),
                     ("sent_bytes", .integer(statistics.sentBytes)), ("received_bytes", .integer(statistics.receivedBytes))])
        })
    }

    /// Records a failed write of the server's state file: a `state_write_failed` metrics event.
    func stateWriteFailed(_ error: String, inRow: Int, limit: Int) {
        metricsLog?.write(event: "state_write_failed", ["error": .text(error), "in_row": .integer(inRow), "limit": .integer(limit)])
    }

    /// Ends a run that failed: writes a `failed` metrics event with `reason` and the totals so far.
    func failed(reason: String) {
        metricsLog?.write(event: "failed", [
            "reason": .text(reason), "epochs": .integer(last?.summary.epoch ?? 0),
            "seconds": .number(secondsSoFar), "world_size": .integer(worldSize),
            "workers": Self.ranks(rankTotals),
        ])
    }

    /// Prints the closing lines and writes the final metrics event; throws, with a `failed` event,
    /// when the last epoch's checkpoint could not be written.
    func finish() throws {
        guard let (summary, evaluation) = last else { throw CLIError("the parameter server finished without completing an epoch") }
        if let checkpoint, let checkpointFailure {
            let reason = "the final weights could not be saved to --checkpoint \(checkpoint): \(checkpointFailure)"
            failed(reason: reason)
            throw CLIError(reason)
        }
        print("Finished Training")
        print(experiment.closingLine(evaluation))
        metricsLog?.write(event: "done", [
            "epochs": .integer(summary.epoch), "train_loss": .number(summary.trainLoss), "test_loss": .number(evaluation.loss),
            "test_accuracy": .number(experiment.objective == .regression ? .nan : evaluation.accuracy),
            "samples_per_second": .number(Double(totalSamples) / max(trainingSeconds, 1e-9)),
            "seconds": .number(trainingSeconds), "world_size": .integer(worldSize), "workers": Self.ranks(rankTotals),
        ])
        if let checkpoint { print("Saved the weights to \(checkpoint)") }
        if let plot {
            let title = "\(experiment.modelKind.rawValue) on \(experiment.datasetKind.rawValue)"
            try TrainingPlots(title: title, reports: history, regression: experiment.objective == .regression)
                .write(to: plot, sequenceFit: experiment.datasetKind == .sine ? TrainingPlots.sineFit(model) : nil)
            print("Drew the curves in \(plot)")
        }
    }
}
