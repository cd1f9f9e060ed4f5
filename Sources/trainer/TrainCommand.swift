import ArgumentParser
import Datasets
import Engine
import Foundation

/// `trainer train`: the engine alone, in one process.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model in this process and report test loss and accuracy after every epoch.",
        discussion: """
            Defaults are the tutorial's: batch 64, SGD with lr 0.01 and momentum 0.9, 10 epochs.

            --dataset xor: full-batch (4) Adam with lr 0.01 for 2000 epochs; the mlp is 2-8-8-1 with one logit trained by binary cross-entropy, and the perceptron, a single Linear(2→1), cannot separate XOR (at most 75% accuracy).

            --dataset sine (windows of 20 values of sin t, predict the next): the tutorial's full-batch (981) Adam with lr 0.01 for 100 epochs and mean squared error; use --model rnn, lstm or gru.

            --dataset cifar10: use --model cnn, the tutorial's conv(3→32) → pool → conv(32→64) → pool → fc(4096→512) → fc(512→10).
            """
    )

    @Option(help: "The network: perceptron (one Linear layer), mlp (784-128-64-10 on images), cnn, or rnn, lstm, gru (hidden 32).")
    var model: ModelKind = .mlp

    @Option(help: "The data set: mnist, fashion-mnist, cifar10, xor or sine.")
    var dataset: DatasetKind = .mnist

    @Option(help: "Passes over the training set (default: 10; xor: 2000; sine: 100).")
    var epochs: Int?

    @Option(help: "Samples per mini-batch (default: 64; xor: 4; sine: 981, the whole series).")
    var batchSize: Int?

    @Option(help: "The optimiser: sgd or adam (default: sgd; xor and sine: adam).")
    var optimizer: OptimizerKind?

    @Option(help: "The learning rate (default: 0.01).")
    var lr: Float?

    @Option(help: "SGD momentum; ignored by adam (default: 0.9).")
    var momentum: Float?

    @Option(help: "Seed of the initial weights and of the per-epoch shuffling.")
    var seed: UInt64 = 0

    @Option(help: "The folder holding mnist/, fashion-mnist/, cifar-10-batches-bin/ (default: the first of $TRAINER_DATA_DIR, ./data, /usr/share/datasets that has the set).")
    var dataDir: String?

    @Option(help: "Write one JSON object per epoch, and a final one, to this file (JSON lines).")
    var metrics: String?

    @Option(help: "Write the weights as a safetensors file with PyTorch state_dict names after every epoch.")
    var checkpoint: String?

    @Option(help: "BLAS threads (default: all cores).")
    var threads: Int?

    @Option(help: "Draw training loss, test loss and test accuracy per epoch (and, for sine, true vs predicted) as an SVG file.")
    var plot: String?

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number") }
        if let momentum, !(momentum >= 0 && momentum < 1) { throw ValidationError("--momentum must lie in [0, 1)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        if let threads { BLAS.setThreadCount(threads) }
        let defaults = dataset.defaults
        let settings = Hyperparameters(epochs: epochs ?? defaults.epochs, batchSize: batchSize ?? defaults.batchSize,
                                       optimizer: optimizer ?? defaults.optimizer, learningRate: lr ?? defaults.learningRate,
                                       momentum: momentum ?? defaults.momentum)
        let experiment = try Experiment(model: model, dataset: dataset, dataDirectory: dataDir)
        let network = experiment.makeModel(seed: seed)
        let optimizerObject: any Optimizer = switch settings.optimizer {
        case .sgd: SGD(parameterCount: network.parameterCount, learningRate: settings.learningRate, momentum: settings.momentum)
        case .adam: Adam(parameterCount: network.parameterCount, learningRate: settings.learningRate)
        }
        let loop = TrainingLoop(model: network, criterion: Criterion(experiment.objective), optimizer: optimizerObject,
                                loader: DataLoader(experiment.train, batchSize: settings.batchSize, shuffle: true, seed: seed),
                                test: experiment.test)
        let metricsLog = try metrics.map(MetricsLog.init(path:))
        let optimizerText = settings.optimizer == .sgd
            ? "SGD(lr \(settings.learningRate), momentum \(settings.momentum))" : "Adam(lr \(settings.learningRate))"
        print("Training \(model.rawValue) on \(dataset.rawValue): \(experiment.train.count) training and \(experiment.test.count) test samples, "
              + "\(network.parameterCount) parameters, \(optimizerText), batch \(settings.batchSize), \(settings.epochs) epochs, "
              + "seed \(seed), OpenBLAS \(BLAS.coreName) with \(BLAS.threadCount) thread(s)")
        metricsLog?.write(event: "start", [
            "model": .text(model.rawValue), "dataset": .text(dataset.rawValue), "parameters": .integer(network.parameterCount),
            "optimizer": .text(settings.optimizer.rawValue), "lr": .float(settings.learningRate),
            "momentum": .float(settings.momentum), "batch_size": .integer(settings.batchSize),
            "epochs": .integer(settings.epochs), "seed": .integer(Int(seed)),
        ])

        var history: [EpochReport] = []
        var totalSeconds = 0.0
        let regression = experiment.objective == .regression
        let reportEvery = settings.epochs <= 20 ? 1 : settings.epochs / 10
        for epoch in 1...settings.epochs {
            let report = loop.runEpoch(epoch) { print($0) }
            totalSeconds += report.seconds
            history.append(report)
            if epoch % reportEvery == 0 || epoch == settings.epochs {
                let score = regression ? "" : "test accuracy \(String(format: "%.2f", 100 * report.test.accuracy))%, "
                print("Epoch \(epoch)/\(settings.epochs): train loss \(format(report.trainLoss)), test loss \(format(report.test.loss)), "
                      + score + "\(Int(report.samplesPerSecond.rounded())) samples/s")
            }
            metricsLog?.write(event: "epoch", fields(report))
            if let checkpoint {
                try network.save(to: checkpoint, metadata: ["format": "pt", "model": model.rawValue,
                                                            "dataset": dataset.rawValue, "epoch": String(epoch)])
            }
            fflush(nil)
        }
        guard let last = history.last else { return }
        print("Finished Training")
        print(experiment.closingLine(last.test))
        metricsLog?.write(event: "done", [
            "epochs": .integer(settings.epochs), "train_loss": .number(last.trainLoss), "test_loss": .number(last.test.loss),
            "test_accuracy": .number(regression ? .nan : last.test.accuracy),
            "samples_per_second": .number(Double(experiment.train.count * settings.epochs) / totalSeconds),
            "seconds": .number(totalSeconds),
        ])
        if let checkpoint { print("Saved the weights to \(checkpoint)") }
        if let plot {
            try TrainingPlots(title: "\(model.rawValue) on \(dataset.rawValue)", history: history, regression: regression)
                .write(to: plot, sequenceFit: dataset == .sine ? sequenceFit(network) : nil)
            print("Drew the curves in \(plot)")
        }
    }

    /// The sine series and the model's one-step predictions over it, for the tutorial's figure.
    private func sequenceFit(_ network: Model) -> TrainingPlots.SequenceFit {
        let series = SineWaveDataset()
        let predictions = network.predictions(on: series.samples)
        return TrainingPlots.SequenceFit(times: series.targetTimes, truth: series.samples.targets.map(Double.init),
                                         predicted: predictions.map(Double.init))
    }

    private func fields(_ report: EpochReport) -> KeyValuePairs<String, MetricValue> {
        ["epoch": .integer(report.epoch), "train_loss": .number(report.trainLoss), "test_loss": .number(report.test.loss),
         "test_accuracy": .number(dataset == .sine ? .nan : report.test.accuracy), "samples_per_second": .number(report.samplesPerSecond),
         "seconds": .number(report.seconds)]
    }
}

/// A loss with four decimals.
func format(_ value: Double) -> String { String(format: abs(value) < 0.01 && value != 0 ? "%.3e" : "%.4f", value) }
