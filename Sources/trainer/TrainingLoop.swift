import Datasets
import Engine
import Foundation

/// The figures of one finished epoch.
struct EpochReport {
    var epoch: Int
    var trainLoss: Double
    var test: Evaluation
    var samplesPerSecond: Double
    var seconds: Double
}

/// The tutorial's loop in one process: forward → loss → backward → optimiser step per mini-batch,
/// a log line every 100 batches, then a test evaluation per epoch.
struct TrainingLoop {
    let model: Model
    let criterion: Criterion
    let optimizer: any Optimizer
    let loader: DataLoader
    let test: LabeledDataset
    var logEvery = 100

    /// Trains one epoch (1-based) and evaluates; `log` receives the human-readable lines and `progress`,
    /// when given, the state after every mini-batch.
    func runEpoch(_ epoch: Int, progress: ((BatchProgress) -> Void)? = nil, log: (String) -> Void) -> EpochReport {
        var runningLoss = 0.0, epochLoss = 0.0, samples = 0
        let start = ContinuousClock.now
        let batches = loader.batchesPerEpoch
        for (index, batch) in loader.epoch(epoch).enumerated() {
            let loss = Double(model.computeGradients(on: batch, criterion: criterion))
            optimizer.step(model)
            runningLoss += loss
            epochLoss += loss * Double(batch.count)
            samples += batch.count
            if let progress {
                progress(BatchProgress(epoch: epoch, batch: index + 1, batches: batches, samples: samples,
                                       meanLoss: epochLoss / Double(samples), seconds: (ContinuousClock.now - start).seconds))
            }
            if (index + 1) % logEvery == 0 {
                log("[Epoch \(epoch), Batch \(index + 1)] loss: \(String(format: "%.3f", runningLoss / Double(logEvery)))")
                runningLoss = 0
            }
        }
        let seconds = (ContinuousClock.now - start).seconds
        let evaluation = model.evaluate(on: test, criterion: criterion)
        return EpochReport(epoch: epoch, trainLoss: samples > 0 ? epochLoss / Double(samples) : 0, test: evaluation,
                           samplesPerSecond: seconds > 0 ? Double(samples) / seconds : 0, seconds: seconds)
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }
}
