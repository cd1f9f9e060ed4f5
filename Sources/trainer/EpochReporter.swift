import Cluster
import Datasets
import Engine
import Foundation

/// Turns a parameter server's end-of-epoch weights into what `trainer train` reports: test loss and
/// accuracy, the epoch line, the metrics event and the checkpoint.
///
/// The server calls `report` on its actor, one epoch after another, and `finish` runs once the
/// server has returned; the state is never touched from two places at once, hence `@unchecked`.
final class EpochReporter: @unchecked Sendable {
    private let experiment: Experiment
    private let model: Model
    private let epochs: Int
    private let workers: Int
    private let metricsLog: MetricsLog?
    private let checkpoint: String?
    private var epochStart = ContinuousClock.now
    private var trainingSeconds = 0.0
    private var last: (summary: EpochSummary, evaluation: Evaluation)?

    init(experiment: Experiment, model: Model, epochs: Int, workers: Int, metricsLog: MetricsLog?, checkpoint: String?) {
        self.experiment = experiment
        self.model = model
        self.epochs = epochs
        self.workers = workers
        self.metricsLog = metricsLog
        self.checkpoint = checkpoint
    }

    /// Marks the start of training.
    func start() { epochStart = .now }

    /// Evaluates and reports one finished epoch.
    func report(_ summary: EpochSummary) {
        let seconds = (ContinuousClock.now - epochStart).seconds
        trainingSeconds += seconds
        _ = model.parameters.update(from: summary.weights)
        let evaluation = model.evaluate(on: experiment.test, criterion: Criterion(experiment.objective))
        let samplesPerSecond = seconds > 0 ? Double(summary.samples) / seconds : 0
        let regression = experiment.objective == .regression
        let score = regression ? "" : "test accuracy \(String(format: "%.2f", 100 * evaluation.accuracy))%, "
        print("Epoch \(summary.epoch)/\(epochs): train loss \(format(summary.trainLoss)), test loss \(format(evaluation.loss)), "
              + score + "\(Int(samplesPerSecond.rounded())) samples/s")
        fflush(nil)
        metricsLog?.write(event: "epoch", [
            "epoch": .integer(summary.epoch), "train_loss": .number(summary.trainLoss), "test_loss": .number(evaluation.loss),
            "test_accuracy": .number(regression ? .nan : evaluation.accuracy), "samples_per_second": .number(samplesPerSecond),
            "seconds": .number(seconds), "workers": .integer(workers),
        ])
        if let checkpoint {
            do {
                try model.save(to: checkpoint, metadata: ["format": "pt", "model": experiment.modelKind.rawValue,
                                                          "dataset": experiment.datasetKind.rawValue, "epoch": String(summary.epoch)])
            } catch {
                FileHandle.standardError.write(Data("trainer: \(error)\n".utf8))
            }
        }
        last = (summary, evaluation)
        epochStart = .now
    }

    /// Prints the closing lines and writes the final metrics event.
    func finish() throws {
        guard let (summary, evaluation) = last else { throw CLIError("the parameter server finished without completing an epoch") }
        print("Finished Training")
        print(experiment.closingLine(evaluation))
        metricsLog?.write(event: "done", [
            "epochs": .integer(summary.epoch), "train_loss": .number(summary.trainLoss), "test_loss": .number(evaluation.loss),
            "test_accuracy": .number(experiment.objective == .regression ? .nan : evaluation.accuracy),
            "samples_per_second": .number(Double(summary.samples * summary.epoch) / max(trainingSeconds, 1e-9)),
            "seconds": .number(trainingSeconds), "workers": .integer(workers),
        ])
        if let checkpoint { print("Saved the weights to \(checkpoint)") }
    }
}
