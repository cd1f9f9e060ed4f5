import ArgumentParser
import Datasets
import Engine
import Foundation
import Reports

/// `trainer train`: the engine alone, in one process.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model in this process and report test loss and accuracy after every epoch.",
        discussion: """
            Defaults are the tutorial's: batch 64, SGD with lr 0.01 and momentum 0.9, 10 epochs.

            --dataset xor: full-batch (4) Adam with lr 0.01 for 2000 epochs; the mlp is 2-8-8-1 with one logit trained by binary cross-entropy, and the perceptron, a single Linear(2→1), cannot separate XOR (at most 75% accuracy).

            --dataset sine (windows of 20 values of sin t, predict the next): the tutorial's full-batch (980) Adam with lr 0.01 for 100 epochs and mean squared error; use --model rnn, lstm or gru.

            --dataset cifar10: use --model cnn, the tutorial's conv(3→32) → pool → conv(32→64) → pool → fc(4096→512) → fc(512→10).
            """
    )

    @OptionGroup var options: TrainingOptions

    @Flag(help: "Do not draw the progress bar (drawn only when standard output is a terminal).")
    var noProgress = false

    func run() throws {
        if let threads = options.threads { BLAS.setThreadCount(threads) }
        let model = options.model, dataset = options.dataset, seed = options.seed, dataDir = options.dataDir
        let metrics = options.metrics, checkpoint = options.checkpoint, plot = options.plot
        let settings = options.hyperparameters
        try OutputPaths.check(options.outputs)
        let experiment = try Experiment(model: model, dataset: dataset, dataDirectory: dataDir)
        let network = experiment.makeModel(seed: seed)
        let optimizerObject = settings.optimizerSettings.makeOptimizer(parameterCount: network.parameterCount)
        let loop = TrainingLoop(model: network, criterion: Criterion(experiment.objective), optimizer: optimizerObject,
                                loader: DataLoader(experiment.train, batchSize: settings.batchSize, shuffle: true, seed: seed),
                                test: experiment.test)
        let metricsLog = try metrics.map { try MetricsLog(path: $0) }
        let optimizerText = settings.optimizerSettings.description
        print("Training \(model.rawValue) on \(dataset.rawValue): \(experiment.train.count) training and \(experiment.test.count) test samples, "
              + "\(network.parameterCount) parameters, \(optimizerText), batch \(settings.batchSize), \(settings.epochs) epoch\(settings.epochs == 1 ? "" : "s"), "
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
        let bar = ProgressBar(epochs: settings.epochs, enabled: !noProgress)
        for epoch in 1...settings.epochs {
            let report = loop.runEpoch(epoch, progress: bar.isDrawing ? bar.update : nil, log: bar.log)
            bar.clear()
            totalSeconds += report.seconds
            history.append(report)
            if epoch % reportEvery == 0 || epoch == settings.epochs {
                let score = regression ? "" : "test accuracy \(String(format: "%.2f", 100 * report.test.accuracy))%, "
                print("Epoch \(epoch)/\(settings.epochs): train loss \(format(report.trainLoss)), test loss \(format(report.test.loss)), "
                      + score + "\(Int(report.samplesPerSecond.rounded())) samples/s")
            }
            metricsLog?.write(event: "epoch", fields(report))
            if let reason = Divergence.check(epoch: epoch, trainLoss: report.trainLoss, testLoss: report.test.loss,
                                             firstTrainLoss: history.first?.trainLoss, checkpoint: checkpoint) {
                metricsLog?.write(event: "failed", ["reason": .text(reason), "epochs": .integer(epoch - 1), "seconds": .number(totalSeconds)])
                throw CLIError(reason)
            }
            if let checkpoint {
                do {
                    try network.save(to: checkpoint, metadata: ["format": "pt", "model": model.rawValue,
                                                                "dataset": dataset.rawValue, "epoch": String(epoch)])
                } catch {
                    metricsLog?.write(event: "failed", ["reason": .text("\(error)"), "epochs": .integer(epoch), "seconds": .number(totalSeconds)])
                    throw error
                }
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
            try TrainingPlots(title: "\(model.rawValue) on \(dataset.rawValue)", reports: history, regression: regression)
                .write(to: plot, sequenceFit: dataset == .sine ? TrainingPlots.sineFit(network) : nil)
            print("Drew the curves in \(plot)")
        }
    }

    private func fields(_ report: EpochReport) -> KeyValuePairs<String, MetricValue> {
        ["epoch": .integer(report.epoch), "train_loss": .number(report.trainLoss), "test_loss": .number(report.test.loss),
         "test_accuracy": .number(options.dataset == .sine ? .nan : report.test.accuracy), "samples_per_second": .number(report.samplesPerSecond),
         "seconds": .number(report.seconds)]
    }
}
