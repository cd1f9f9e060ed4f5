import ArgumentParser
import Datasets
import Engine
import Foundation

/// The networks `trainer` can build.
enum ModelKind: String, CaseIterable, ExpressibleByArgument {
    case perceptron
    case mlp
    case cnn
    case rnn
    case lstm
    case gru

    /// The recurrent cell of a sequence model, nil for the others.
    var cell: RecurrentCell? {
        switch self {
        case .rnn: .rnn
        case .lstm: .lstm
        case .gru: .gru
        case .perceptron, .mlp, .cnn: nil
        }
    }
}

/// The data sets `trainer` can load.
enum DatasetKind: String, CaseIterable, ExpressibleByArgument {
    case xor
    case mnist
    case fashionMNIST = "fashion-mnist"
    case cifar10
    case sine

    /// The sub-folder of the data folder that holds the files.
    var folder: String? {
        switch self {
        case .xor, .sine: nil
        case .mnist: "mnist"
        case .fashionMNIST: "fashion-mnist"
        case .cifar10: CIFAR10Dataset.folderName
        }
    }

    /// The hyper-parameters used when a flag is not given: the tutorial's for the image sets;
    /// for XOR, full-batch Adam long enough for a small MLP to fit the four points.
    var defaults: Hyperparameters {
        switch self {
        case .xor: Hyperparameters(epochs: 2000, batchSize: 4, optimizer: .adam, learningRate: 0.01, momentum: 0.9)
        case .sine: Hyperparameters(epochs: 100, batchSize: 980, optimizer: .adam, learningRate: 0.01, momentum: 0.9)
        case .mnist, .fashionMNIST, .cifar10:
            Hyperparameters(epochs: 10, batchSize: 64, optimizer: .sgd, learningRate: 0.01, momentum: 0.9)
        }
    }
}

extension OptimizerKind: ExpressibleByArgument {}

/// The settings of one training run.
struct Hyperparameters {
    var epochs: Int
    var batchSize: Int
    var optimizer: OptimizerKind
    var learningRate: Float
    var momentum: Float
    var weightDecay: Float = 0
    var nesterov = false

    /// The optimiser these settings build (momentum and Nesterov are SGD's alone).
    var optimizerSettings: OptimizerSettings {
        switch optimizer {
        case .sgd: .sgd(learningRate: learningRate, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
        case .adam: .adam(learningRate: learningRate, weightDecay: weightDecay)
        }
    }
}

/// A model and data set resolved into the objects a training or evaluation loop needs.
struct Experiment {
    let modelKind: ModelKind
    let datasetKind: DatasetKind
    let train: LabeledDataset
    let test: LabeledDataset

    /// Loads the data set (throwing `DatasetError` for missing or malformed files).
    init(model: ModelKind, dataset: DatasetKind, dataDirectory: String?) throws {
        if let problem = Self.mismatch(of: model, with: dataset) { throw CLIError(problem) }
        let (train, test) = try Self.load(dataset, dataDirectory: dataDirectory)
        self.init(model: model, dataset: dataset, train: train, test: test)
    }

    /// An experiment on data already loaded.
    init(model: ModelKind, dataset: DatasetKind, train: LabeledDataset, test: LabeledDataset) {
        modelKind = model
        datasetKind = dataset
        self.train = train
        self.test = test
    }

    /// Why `model` cannot train on `dataset`, or nil when it can.
    static func mismatch(of model: ModelKind, with dataset: DatasetKind) -> String? {
        if model.cell != nil && dataset != .sine {
            return "--model \(model.rawValue) is a sequence model: use it with --dataset sine"
        }
        if model == .cnn && !(dataset == .cifar10 || dataset == .mnist || dataset == .fashionMNIST) {
            return "--model cnn needs images: use --dataset cifar10, mnist or fashion-mnist"
        }
        return nil
    }

    /// The training and test splits of `dataset`.
    static func load(_ dataset: DatasetKind, dataDirectory: String?) throws -> (train: LabeledDataset, test: LabeledDataset) {
        switch dataset {
        case .xor:
            let points = XORDataset.load()
            return (points, points)
        case .sine:
            // The tutorial fits the whole series and draws its predictions over it: no held-out part.
            let series = SineWaveDataset.load()
            return (series, series)
        case .mnist, .fashionMNIST:
            let folder = try DatasetLocation.folder(dataset.folder!, dataDirectory: dataDirectory)
            let size = IDXDataset.standardImageSize
            return (try IDXDataset.load(folder: folder, split: .train, name: dataset.rawValue, imageSize: size),
                    try IDXDataset.load(folder: folder, split: .test, name: dataset.rawValue, imageSize: size))
        case .cifar10:
            let folder = try DatasetLocation.folder(dataset.folder!, dataDirectory: dataDirectory)
            return (try CIFAR10Dataset.load(folder: folder, split: .train, name: dataset.rawValue),
                    try CIFAR10Dataset.load(folder: folder, split: .test, name: dataset.rawValue))
        }
    }

    /// What the network is trained to predict: XOR is one logit, the sine series one real value,
    /// the image sets ten classes.
    var objective: Objective {
        switch datasetKind {
        case .xor: .binaryClassification
        case .sine: .regression
        case .mnist, .fashionMNIST, .cifar10: .classification
        }
    }

    /// The network for this data set, initialised from `seed` as PyTorch would.
    func makeModel(seed: UInt64) -> Model {
        let inputs = train.sampleSize
        let outputs = objective == .classification ? train.classCount : train.targetSize
        switch modelKind {
        case .cnn:
            let shape = train.sampleShape
            return Model(Models.cnn(channels: shape[0], imageSize: shape[2], classes: outputs), seed: seed)
        case .rnn, .lstm, .gru:
            return Model(Models.sequenceRegressor(cell: modelKind.cell!, inputSize: train.sampleShape.last!, hiddenSize: 32,
                                                  outputs: outputs), seed: seed)
        case .perceptron:
            return Model(Models.perceptron(inputs: inputs, outputs: outputs), seed: seed)
        case .mlp:
            let hidden = datasetKind == .xor ? (8, 8) : (128, 64)
            return Model(Models.mlp(inputs: inputs, hidden: hidden, outputs: outputs), seed: seed)
        }
    }

    /// "images" for the image sets, "samples" otherwise, for the tutorial's closing line.
    var sampleNoun: String { datasetKind == .xor || datasetKind == .sine ? "samples" : "images" }

    /// The tutorial's closing line: the test accuracy, or for regression the mean squared error.
    func closingLine(_ evaluation: Evaluation) -> String {
        if objective == .regression {
            return "Mean squared error of the network on the \(evaluation.count) \(sampleNoun): " + String(format: "%.3g", evaluation.loss)
        }
        return "Accuracy of the network on the \(evaluation.count) test \(sampleNoun): " + String(format: "%.2f", 100 * evaluation.accuracy) + "%"
    }
}
