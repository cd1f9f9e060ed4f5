/// EngineProfile: where one training step of the tutorial's CIFAR-10 CNN (or MNIST MLP) spends its time,
/// layer by layer, for profiling decisions (Benchmarks/profile_engine.sh builds and runs it, also under
/// callgrind, whose instruction counts hold up on a loaded machine).
///
///     EngineProfile [--model cnn|mlp] [--steps N] [--warmup N] [--batch N] [--threads N] [--inference] [--synthetic]
///                   [--cpu-time] [--compare-gathers]
///
/// Runs WARMUP untimed steps, then STEPS timed ones inside `profiledSteps` (the function callgrind's
/// `--toggle-collect` names), each step timing every layer's forward and backward, the loss and the
/// optimiser, and prints the mean milliseconds per step of each on standard output. `--cpu-time` times
/// the calling thread's CPU time instead of the wall clock (with `--threads 1`, a figure that waiting
/// for the core behind other processes does not inflate). `--compare-gathers`
/// instead times the batch gather of floats against a gather of bytes normalised on the way.
import Datasets
import Engine
import Foundation

struct Options {
    var model = "cnn"
    var steps = 20
    var warmup = 3
    var batch = 64
    var threads = ProcessInfo.processInfo.activeProcessorCount
    var inference = false
    var synthetic = false
    var cpuTime = false
    var dataDir = ProcessInfo.processInfo.environment["TRAINER_DATA_DIR"] ?? "../shared/data"

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            func value() -> String {
                guard let next = iterator.next() else { fatalError("\(flag) needs a value") }
                return next
            }
            switch flag {
            case "--model": model = value()
            case "--steps": steps = Int(value())!
            case "--warmup": warmup = Int(value())!
            case "--batch": batch = Int(value())!
            case "--threads": threads = Int(value())!
            case "--data-dir": dataDir = value()
            case "--inference": inference = true
            case "--synthetic": synthetic = true
            case "--cpu-time": cpuTime = true
            case "--compare-gathers": break
            default: fatalError("unknown flag \(flag)")
            }
        }
    }
}

/// Seconds on the wall clock, or of the calling thread's CPU time with `--cpu-time`.
func now() -> Double {
    guard options.cpuTime else { return Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

/// Accumulated seconds per named phase, in first-seen order.
final class Phases {
    private(set) var names: [String] = []
    private var seconds: [String: Double] = [:]

    func time<T>(_ name: String, _ body: () -> T) -> T {
        let start = now()
        let result = body()
        let elapsed = now() - start
        if seconds[name] == nil { names.append(name) }
        seconds[name, default: 0] += elapsed
        return result
    }

    func total(_ name: String) -> Double { seconds[name] ?? 0 }
    func reset() { seconds = [:]; names = [] }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
BLAS.setThreadCount(options.threads)
let data: LabeledDataset
let network: Sequential
/// `count` samples of `shape` with uniform values in [−1, 1) and labels 0–9, for runs under valgrind,
/// where reading and decoding the real files would take longer than the steps.
func synthetic(_ shape: [Int], count: Int) -> LabeledDataset {
    var generator = SeededGenerator(seed: 1)
    var features = [Float](repeating: 0, count: count * shape.reduce(1, *))
    features.withUnsafeMutableBufferPointer { generator.fillUniform($0.baseAddress!, count: $0.count, low: -1, high: 1) }
    let labels = (0..<count).map { _ in Int32(generator.next() % 10) }
    return LabeledDataset(name: "synthetic", sampleShape: shape, features: features, labels: labels, classCount: 10)
}

switch options.model {
case "cnn":
    data = options.synthetic ? synthetic([3, 32, 32], count: 4 * options.batch)
        : try CIFAR10Dataset.load(folder: options.dataDir + "/cifar-10-batches-bin", split: .train)
    network = Models.cnn()
case "mlp":
    data = options.synthetic ? synthetic([1, 28, 28], count: 4 * options.batch)
        : try IDXDataset.load(folder: options.dataDir + "/mnist", split: .train, name: "mnist")
    network = Models.mlp()
default:
    fatalError("--model cnn or mlp")
}
let model = Model(network, seed: 0)
let optimizer = SGD(parameterCount: model.parameterCount, learningRate: 0.01, momentum: 0.9)
let loss = CrossEntropyLoss()
let loader = DataLoader(data, batchSize: options.batch, shuffle: true, seed: 0)
let order = DataLoader.order(count: data.count, seed: 0, epoch: 1)
let phases = Phases()
/// The layers as `Sequential` runs them: index ranges of one layer, of a ReLU → MaxPool2d pass, or of a
/// Conv2d → ReLU → MaxPool2d pass.
let stages: [Range<Int>] = {
    let layers = network.layers.map(\.layer)
    var stages: [Range<Int>] = []
    var index = 0
    while index < layers.count {
        let next = index + 1 < layers.count ? layers[index + 1] : nil, afterNext = index + 2 < layers.count ? layers[index + 2] : nil
        let length = layers[index] is Conv2d && next is ReLU && afterNext is MaxPool2d ? 3 : layers[index] is ReLU && next is MaxPool2d ? 2 : 1
        stages.append(index..<index + length)
        index += length
    }
    return stages
}()
var position = 0

/// One training (or inference) step over the next batch, every phase timed.
func step() {
    if position + options.batch > data.count { position = 0 }
    let batch = phases.time("gather") { loader.gather(position..<position + options.batch, order: order) }
    position += options.batch
    if options.inference {
        let x = phases.time("forward") { network.forward(batch.inputs, mode: .evaluation) }
        _ = phases.time("loss") { loss.forward(x, labels: batch.labels) }
        return
    }
    phases.time("zero gradients") { model.zeroGradients() }
    var x = batch.inputs
    func name(_ stage: Range<Int>) -> String { stage.map { network.layers[$0].name }.joined(separator: "+") }
    for stage in stages {
        let first = network.layers[stage.lowerBound].layer, pool = network.layers[stage.upperBound - 1].layer as? MaxPool2d
        x = phases.time("forward \(name(stage))") {
            switch (stage.count, first, pool) {
            case (3, let convolution as Conv2d, let pool?): convolution.forward(x, mode: .training, thenReLUAndPool: pool)
            case (2, _, let pool?): pool.forward(x, mode: .training, rectified: true)
            default: first.forward(x, mode: .training)
            }
        }
    }
    _ = phases.time("loss") { loss.forward(x, labels: batch.labels) }
    var gradient: Tensor? = phases.time("loss backward") { loss.backward() }
    for stage in stages.reversed() {
        let first = network.layers[stage.lowerBound].layer, pool = network.layers[stage.upperBound - 1].layer as? MaxPool2d
        let needed = stage.lowerBound > 0
        gradient = phases.time("backward \(name(stage))") {
            switch (stage.count, first, pool) {
            case (3, let convolution as Conv2d, let pool?): convolution.backward(gradient!, needsInputGradient: needed, throughReLUAndPool: pool)
            case (2, _, let pool?): pool.backward(gradient!, needsInputGradient: needed)
            default: first.backward(gradient!, needsInputGradient: needed)
            }
        }
    }
    phases.time("optimizer") { optimizer.step(model) }
}

@inline(never)
func profiledSteps(_ count: Int) {
    for _ in 0..<count { step() }
}

/// The batch gather as `DataLoader` does it (floats) against a gather of bytes normalised on the way
/// (what keeping the images as UInt8 would cost), over the same shuffled positions, alternating.
func compareGathers() {
    let size = data.sampleSize, batch = options.batch
    let bytes = data.features.map { UInt8(($0 * 0.5 + 0.5) * 255 + 0.5) }
    let table = (0...255).map { normalizedPixel(UInt8($0)) }
    let output = Tensor(zeros: [batch, size])
    var seconds = (floats: 0.0, bytes: 0.0)
    for round in 0..<6 {
        var start = DispatchTime.now().uptimeNanoseconds
        for first in stride(from: 0, to: data.count - batch, by: batch) { _ = loader.gather(first..<first + batch, order: order) }
        let floats = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        start = DispatchTime.now().uptimeNanoseconds
        bytes.withUnsafeBufferPointer { source in
            table.withUnsafeBufferPointer { table in
                for first in stride(from: 0, to: data.count - batch, by: batch) {
                    let y = output.data, base = source.baseAddress!, lookup = table.baseAddress!
                    ComputePool.shared.forEachRange(batch, minimumPerThread: max(1, 16384 / size)) { rows in
                        for row in rows {
                            let sample = base + Int(order[first + row]) * size, destination = y + row * size
                            for i in 0..<size { destination[i] = lookup[Int(sample[i])] }
                        }
                    }
                }
            }
        }
        let byteSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        if round > 0 { seconds = (seconds.floats + floats, seconds.bytes + byteSeconds) }
    }
    let batches = Double(5 * (data.count / batch))
    print(String(format: "gather per batch of %d: floats %.1f µs, bytes normalised on the way %.1f µs (%.2f×)", batch,
                 seconds.floats / batches * 1e6, seconds.bytes / batches * 1e6, seconds.floats / seconds.bytes))
}

if CommandLine.arguments.contains("--compare-gathers") {
    compareGathers()
    exit(0)
}

for _ in 0..<options.warmup { step() }
phases.reset()
let start = now()
profiledSteps(options.steps)
let wall = now() - start
print("\(options.model) \(options.inference ? "inference" : "training"), batch \(options.batch), \(options.threads) thread(s), "
      + "OpenBLAS \(BLAS.coreName), \(options.steps) steps, \(options.cpuTime ? "CPU time of the calling thread" : "wall clock")")
print(String(format: "%-22@ %9@ %7@", "phase" as NSString, "ms/step" as NSString, "share" as NSString))
for name in phases.names {
    let ms = phases.total(name) / Double(options.steps) * 1000
    print(String(format: "%-22@ %9.3f %6.1f%%", name as NSString, ms, 100 * phases.total(name) / wall))
}
print(String(format: "%-22@ %9.3f   (%.0f samples/s)", "step" as NSString, wall / Double(options.steps) * 1000,
             Double(options.steps * options.batch) / wall))
