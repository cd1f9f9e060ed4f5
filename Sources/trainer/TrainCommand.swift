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
            For --dataset xor the defaults are full-batch (4) Adam with lr 0.01 for 2000 epochs, and the mlp
            is 2-8-8-1 with one logit trained by binary cross-entropy; the perceptron is a single Linear(2→1),
            which cannot separate XOR (at most 75% accuracy).
            """
    )

    @Option(help: "The network: perceptron (one Linear layer) or mlp (784-128-64-10 on images).")
    var model: ModelKind = .mlp

    @Option(help: "The data set: mnist, fashion-mnist or xor.")
    var dataset: DatasetKind = .mnist

    @Option(help: "Passes over the training set (default: 10; xor: 2000).")
    var epochs: Int?

    @Option(help: "Samples per mini-batch (default: 64; xor: 4).")
    var batchSize: Int?

    @Option(help: "The optimiser: sgd or adam (default: sgd; xor: adam).")
    var optimizer: OptimizerKind?

    @Option(help: "The learning rate (default: 0.01).")
    var lr: Float?

    @Option(help: "SGD momentum; ignored by adam (default: 0.9).")
    var momentum: Float?

    @Option(help: "Seed of the initial weights and of the per-epoch shuffling.")
    var seed: UInt64 = 0

    @Option(help: "The folder holding mnist/, fashion-mnist/ (default: $TRAINER_DATA_DIR, else ./data, else /usr/share/datasets).")
    var dataDir: String?

    @Option(help: "Write one JSON object per epoch, and a final one, to this file (JSON lines).")
    var metrics: String?

    @Option(help: "Write the weights as a safetensors file with PyTorch state_dict names after every epoch.")
    var checkpoint: String?

    @Option(help: "BLAS threads (default: all cores).")
    var threads: Int?

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

        var last: EpochReport?
        var totalSeconds = 0.0
        let reportEvery = settings.epochs <= 20 ? 1 : settings.epochs / 10
        for epoch in 1...settings.epochs {
            let report = loop.runEpoch(epoch) { print($0) }
            totalSeconds += report.seconds
            last = report
            if epoch % reportEvery == 0 || epoch == settings.epochs {
                print("Epoch \(epoch)/\(settings.epochs): train loss \(format(report.trainLoss)), test loss \(format(report.test.loss)), "
                      + "test accuracy \(String(format: "%.2f", 100 * report.test.accuracy))%, "
                      + "\(Int(report.samplesPerSecond.rounded())) samples/s")
            }
            metricsLog?.write(event: "epoch", fields(report))
            if let checkpoint {
                try network.save(to: checkpoint, metadata: ["format": "pt", "model": model.rawValue,
                                                            "dataset": dataset.rawValue, "epoch": String(epoch)])
            }
            fflush(nil)
        }
        guard let last else { return }
        print("Finished Training")
        print("Accuracy of the network on the \(last.test.count) test \(experiment.sampleNoun): "
              + "\(String(format: "%.2f", 100 * last.test.accuracy))%")
        metricsLog?.write(event: "done", [
            "epochs": .integer(settings.epochs), "train_loss": .number(last.trainLoss), "test_loss": .number(last.test.loss),
            "test_accuracy": .number(last.test.accuracy),
            "samples_per_second": .number(Double(experiment.train.count * settings.epochs) / totalSeconds),
            "seconds": .number(totalSeconds),
        ])
        if let checkpoint { print("Saved the weights to \(checkpoint)") }
    }

    private func fields(_ report: EpochReport) -> KeyValuePairs<String, MetricValue> {
        ["epoch": .integer(report.epoch), "train_loss": .number(report.trainLoss), "test_loss": .number(report.test.loss),
         "test_accuracy": .number(report.test.accuracy), "samples_per_second": .number(report.samplesPerSecond),
         "seconds": .number(report.seconds)]
    }
}

/// A loss with four decimals.
func format(_ value: Double) -> String { String(format: "%.4f", value) }
