import ArgumentParser
import Datasets
import Engine

/// The networks `trainer` can build.
enum ModelKind: String, CaseIterable, ExpressibleByArgument {
    case perceptron
    case mlp
}

/// The data sets `trainer` can load.
enum DatasetKind: String, CaseIterable, ExpressibleByArgument {
    case xor
    case mnist
    case fashionMNIST = "fashion-mnist"

    /// The sub-folder of the data folder that holds the files.
    var folder: String? {
        switch self {
        case .xor: nil
        case .mnist: "mnist"
        case .fashionMNIST: "fashion-mnist"
        }
    }

    /// The hyper-parameters used when a flag is not given: the tutorial's for the image sets;
    /// for XOR, full-batch Adam long enough for a small MLP to fit the four points.
    var defaults: Hyperparameters {
        switch self {
        case .xor: Hyperparameters(epochs: 2000, batchSize: 4, optimizer: .adam, learningRate: 0.01, momentum: 0.9)
        case .mnist, .fashionMNIST: Hyperparameters(epochs: 10, batchSize: 64, optimizer: .sgd, learningRate: 0.01, momentum: 0.9)
        }
    }
}

/// The optimisers `trainer` offers.
enum OptimizerKind: String, CaseIterable, ExpressibleByArgument {
    case sgd
    case adam
}

/// The settings of one training run.
struct Hyperparameters {
    var epochs: Int
    var batchSize: Int
    var optimizer: OptimizerKind
    var learningRate: Float
    var momentum: Float
}

/// A model and data set resolved into the objects a training or evaluation loop needs.
struct Experiment {
    let modelKind: ModelKind
    let datasetKind: DatasetKind
    let train: LabeledDataset
    let test: LabeledDataset

    /// Loads the data set (throwing `DatasetError` for missing or malformed files).
    init(model: ModelKind, dataset: DatasetKind, dataDirectory: String?) throws {
        modelKind = model
        datasetKind = dataset
        switch dataset {
        case .xor:
            train = XORDataset.load()
            test = train
        case .mnist, .fashionMNIST:
            let folder = try DatasetLocation.folder(dataset.folder!, dataDirectory: dataDirectory)
            train = try IDXDataset.load(folder: folder, split: .train, name: dataset.rawValue)
            test = try IDXDataset.load(folder: folder, split: .test, name: dataset.rawValue)
        }
    }

    /// What the network is trained to predict: XOR is one logit, the image sets ten classes.
    var objective: Objective { datasetKind == .xor ? .binaryClassification : .classification }

    /// The network for this data set, initialised from `seed` as PyTorch would.
    func makeModel(seed: UInt64) -> Model {
        let inputs = train.sampleSize
        let outputs = objective == .binaryClassification ? 1 : train.classCount
        switch modelKind {
        case .perceptron:
            return Model(Models.perceptron(inputs: inputs, outputs: outputs), seed: seed)
        case .mlp:
            let hidden = datasetKind == .xor ? (8, 8) : (128, 64)
            return Model(Models.mlp(inputs: inputs, hidden: hidden, outputs: outputs), seed: seed)
        }
    }

    /// "images" for the image sets, "samples" otherwise, for the tutorial's closing line.
    var sampleNoun: String { datasetKind == .xor ? "samples" : "images" }
}
