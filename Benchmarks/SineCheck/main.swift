/// SineCheck: one sine regressor trained as `trainer train --dataset sine` trains it (980 windows, full
/// batch, MSELoss, Adam lr 0.01, 100 epochs), optionally from initial weights in a safetensors file
/// (PyTorch's `state_dict` names), for comparing training from the same starting point on both sides.
///
///     SineCheck --model rnn|lstm|gru --seed S [--init FILE] [--dump-init FILE]
///
/// Prints one JSON object: the model, seed, the last epoch's loss (before its update) and the MSE of
/// the trained model over the series.
import Datasets
import Engine
import Foundation

var cell = RecurrentCell.lstm, seed: UInt64 = 0, initPath: String?, dumpPath: String?
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard let value = arguments.next() else { fatalError("\(flag) needs a value") }
    switch flag {
    case "--model": cell = RecurrentCell(rawValue: value)!
    case "--seed": seed = UInt64(value)!
    case "--init": initPath = value
    case "--dump-init": dumpPath = value
    default: fatalError("unknown flag \(flag)")
    }
}
BLAS.setThreadCount(1)
let data = SineWaveDataset.load()
let model = Model(Models.sequenceRegressor(cell: cell), seed: seed)
if let initPath { try model.load(from: initPath) }
if let dumpPath { try model.save(to: dumpPath) }
let optimizer = Adam(parameterCount: model.parameterCount, learningRate: 0.01)
let loss = MSELoss()
let batch = DataLoader(data, batchSize: data.count, shuffle: false).gather(0..<data.count, order: nil)
var last: Float = 0
for _ in 0..<100 {
    model.zeroGradients()
    last = loss.forward(model.forward(batch.inputs), target: batch.targets)
    model.backward(loss.backward())
    optimizer.step(model)
}
let mse = loss.forward(model.forward(batch.inputs, mode: .evaluation), target: batch.targets)
print("{\"model\": \"\(cell.rawValue)\", \"seed\": \(seed), \"last_epoch_loss\": \(last), \"mse\": \(mse)}")
