import ArgumentParser
import Datasets
import Engine
import Foundation
import Reports

/// `trainer eval`: reloads a checkpoint and reports its test loss and accuracy.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a safetensors checkpoint on a data set's test split."
    )

    @Option(help: "The safetensors file `trainer train --checkpoint` wrote.")
    var checkpoint: String

    @Option(help: "The data set (default: the one recorded in the checkpoint).")
    var dataset: DatasetKind?

    @Option(help: "The network (default: the one recorded in the checkpoint, else the one its tensor names and shapes fit).")
    var model: ModelKind?

    @Option(help: TrainingOptions.dataDirectoryHelp)
    var dataDir: String?

    func run() throws {
        let file = try Safetensors.read(from: checkpoint)
        guard let datasetKind = dataset ?? file.metadata["dataset"].flatMap(DatasetKind.init(rawValue:)) else {
            throw CLIError("\(checkpoint): no data set recorded in the file; pass --dataset")
        }
        let experiment: Experiment
        if let modelKind = model ?? file.metadata["model"].flatMap(ModelKind.init(rawValue:)) {
            experiment = try Experiment(model: modelKind, dataset: datasetKind, dataDirectory: dataDir)
        } else {
            let (train, test) = try Experiment.load(datasetKind, dataDirectory: dataDir)
            let inferred = try ModelInference.model(for: file.tensors, order: file.order, file: checkpoint,
                                                    dataset: datasetKind, train: train, test: test)
            experiment = Experiment(model: inferred, dataset: datasetKind, train: train, test: test)
        }
        let network = experiment.makeModel(seed: 0)
        try network.load(from: checkpoint)
        let result = network.evaluate(on: experiment.test, criterion: Criterion(experiment.objective))
        print("Evaluated \(experiment.modelKind.rawValue) from \(checkpoint) on \(datasetKind.rawValue): test loss \(format(result.loss))")
        print(experiment.closingLine(result))
    }
}
