// An example of ActorTrainer as a library: a model of its own (with a layer of its own), trained
// data-parallel by a parameter server and two workers in this one process, over ZeroMQ on
// loopback TCP, then scored on the test set.
//
//   swift run -c release ClusterExample [--data-dir DIR] [--epochs N]
//
// It trains on MNIST when DIR (or $TRAINER_DATA_DIR, ./data, /usr/share/datasets) holds mnist/,
// else on Debian's Fashion-MNIST (`apt-get install dataset-fashion-mnist`).
import Cluster
import Datasets
import Engine
import Foundation
import ZeroMQ

/// max(x, slope·x), element-wise: a layer the engine does not ship, written against `Layer`.
final class LeakyReLU: Layer {
    private let slope: Float
    private let output = Tensor()
    private let inputGradient = Tensor()

    init(slope: Float) { self.slope = slope }

    func forward(_ input: Tensor, mode: Mode) -> Tensor {
        output.resize(to: input.shape)
        for i in 0..<input.count { output.data[i] = input.data[i] > 0 ? input.data[i] : slope * input.data[i] }
        return output
    }

    func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        inputGradient.resize(to: output.shape)
        for i in 0..<output.count { inputGradient.data[i] = output.data[i] > 0 ? outputGradient.data[i] : slope * outputGradient.data[i] }
        return inputGradient
    }
}

/// 784 → 96 → LeakyReLU → 10: not one of the tutorial's models. The same seed on every side gives
/// the same starting weights (the server's are the ones that count; it sends them in each welcome).
func makeModel() -> Model {
    Model(Sequential([("hidden", Linear(784, 96) as any Layer), ("leaky", LeakyReLU(slope: 0.1)), ("out", Linear(96, 10))]), seed: 5)
}

func option(_ name: String) -> String? {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ClusterExample: \(message)\n".utf8))
    exit(1)
}

let dataDirectory = option("--data-dir")
guard let epochs = Int(option("--epochs") ?? "1"), epochs >= 1 else { fail("--epochs takes a whole number, at least 1") }
let (name, folder): (String, String)
if let mnist = try? DatasetLocation.folder("mnist", dataDirectory: dataDirectory) {
    (name, folder) = ("mnist", mnist)
} else {
    do { (name, folder) = ("fashion-mnist", try DatasetLocation.folder("fashion-mnist", dataDirectory: dataDirectory)) } catch { fail("\(error)") }
}
let trainingSet: LabeledDataset, testSet: LabeledDataset
do {
    trainingSet = try IDXDataset.load(folder: folder, split: .train, name: name)
    testSet = try IDXDataset.load(folder: folder, split: .test, name: name)
} catch {
    fail("\(error)")
}

let workers = 2
let configuration = TrainingConfiguration(model: "leaky-mlp", dataset: name, optimizer: .sgd(learningRate: 0.05, momentum: 0.9),
                                          batchSizePerWorker: 32, epochs: epochs, seed: 1, mode: .sync)
let initial = makeModel()
let context = try Context()
let server = try ParameterServer(
    context: context, bind: "tcp://127.0.0.1:*", weights: Array(initial.parameters), fingerprint: initial.fingerprint,
    configuration: configuration, dataset: DatasetDescription(describing: trainingSet, testCount: testSet.count),
    settings: .init(worldSize: workers),
    events: .init(logger: .discarding, onEpochEnd: { summary in
        print("epoch \(summary.epoch): training loss \(String(format: "%.4f", summary.trainLoss)), \(summary.samples) samples")
    }))
print("training on \(name) (\(trainingSet.count) images) with a server at \(server.endpoint) and \(workers) workers")
let replicas = try (0..<workers).map { _ in
    try Worker(context: context, connect: server.endpoint, trainingSet: trainingSet, testCount: testSet.count,
               settings: Worker.Settings(heartbeatTimeout: .seconds(60), logger: .discarding)) { _ in makeModel() }
}
async let finalWeights = server.run()
try await withThrowingTaskGroup(of: Void.self) { group in
    for worker in replicas { group.addTask { _ = try await worker.run() } }
    try await group.waitForAll()
}
let weights = try await finalWeights
for worker in replicas { await worker.close() }
await server.close()

let trained = makeModel()
_ = trained.parameters.update(fromContentsOf: weights)
let score = trained.evaluate(on: testSet, criterion: Criterion(.classification))
print("test accuracy: \(String(format: "%.2f", score.accuracy * 100)) % on \(score.count) images")
