import ArgumentParser
import Datasets
import Engine
import Foundation

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

    @Option(help: "The network (default: the one recorded in the checkpoint).")
    var model: ModelKind?

    @Option(help: TrainingOptions.dataDirectoryHelp)
    var dataDir: String?

    func run() throws {
        let metadata = try Safetensors.read(from: checkpoint).metadata
        guard let modelKind = model ?? metadata["model"].flatMap(ModelKind.init(rawValue:)) else {
            throw CLIError("\(checkpoint): no model recorded in the file; pass --model")
        }
        guard let datasetKind = dataset ?? metadata["dataset"].flatMap(DatasetKind.init(rawValue:)) else {
            throw CLIError("\(checkpoint): no data set recorded in the file; pass --dataset")
        }
        let experiment = try Experiment(model: modelKind, dataset: datasetKind, dataDirectory: dataDir)
        let network = experiment.makeModel(seed: 0)
        try network.load(from: checkpoint)
        let result = network.evaluate(on: experiment.test, criterion: Criterion(experiment.objective))
        print("Evaluated \(modelKind.rawValue) from \(checkpoint) on \(datasetKind.rawValue): test loss \(format(result.loss))")
        print(experiment.closingLine(result))
    }
}
