import ArgumentParser
import Engine

/// The flags every training command shares: the model, the data and the hyper-parameters.
struct TrainingOptions: ParsableArguments {
    /// The help text of `--data-dir`, the same wherever the flag appears.
    static let dataDirectoryHelp: ArgumentHelp = "The folder holding mnist/, fashion-mnist/, cifar-10-batches-bin/ (default: the first of $TRAINER_DATA_DIR, ./data, /usr/share/datasets that has the set)."

    @Option(help: "The network: perceptron (one Linear layer), mlp (784-128-64-10 on images), cnn, or rnn, lstm, gru (hidden 32).")
    var model: ModelKind = .mlp

    @Option(help: "The data set: mnist, fashion-mnist, cifar10, xor or sine.")
    var dataset: DatasetKind = .mnist

    @Option(parsing: .unconditional, help: "Passes over the training set (default: 10; xor: 2000; sine: 100).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Samples per mini-batch (default: 64; xor: 4; sine: 980, the whole series).")
    var batchSize: Int?

    @Option(help: "The optimiser: sgd or adam (default: sgd; xor and sine: adam).")
    var optimizer: OptimizerKind?

    @Option(parsing: .unconditional, help: "The learning rate (default: 0.01).")
    var lr: Float?

    @Option(parsing: .unconditional, help: "SGD momentum; ignored by adam (default: 0.9).")
    var momentum: Float?

    @Option(parsing: .unconditional, help: "L2 penalty added to every gradient, as PyTorch's weight_decay (default: 0).")
    var weightDecay: Float = 0

    @Flag(help: "SGD with Nesterov momentum (needs a momentum > 0).")
    var nesterov = false

    @Option(parsing: .unconditional, help: "Seed of the initial weights and of the per-epoch shuffling.")
    var seed: UInt64 = 0

    @Option(help: dataDirectoryHelp)
    var dataDir: String?

    @Option(help: "Write one JSON object per epoch, and a final one, to this file (JSON lines).")
    var metrics: String?

    @Option(help: "Write the weights as a safetensors file with PyTorch state_dict names after every epoch.")
    var checkpoint: String?

    @Option(parsing: .unconditional, help: "BLAS threads (default: all cores).")
    var threads: Int?

    @Option(help: "Draw training loss, test loss and test accuracy per epoch (and, for sine, true vs predicted) as an SVG file.")
    var plot: String?

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number") }
        if let momentum, !(momentum >= 0 && momentum < 1) { throw ValidationError("--momentum must lie in [0, 1)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if !(weightDecay >= 0 && weightDecay.isFinite) { throw ValidationError("--weight-decay must be a finite number ≥ 0") }
        if nesterov && hyperparameters.optimizer != .sgd { throw ValidationError("--nesterov is for --optimizer sgd") }
        if let problem = hyperparameters.optimizerSettings.problem { throw ValidationError("optimizer settings: \(problem)") }
    }

    /// The settings in force: the flags given, else the data set's defaults.
    var hyperparameters: Hyperparameters {
        let defaults = dataset.defaults
        return Hyperparameters(epochs: epochs ?? defaults.epochs, batchSize: batchSize ?? defaults.batchSize,
                               optimizer: optimizer ?? defaults.optimizer, learningRate: lr ?? defaults.learningRate,
                               momentum: momentum ?? defaults.momentum, weightDecay: weightDecay, nesterov: nesterov)
    }
}
