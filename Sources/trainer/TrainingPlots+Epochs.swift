import Datasets
import Engine
import Reports

extension TrainingPlots {
    /// The plots of the epochs a training loop or a parameter server reported.
    init(title: String, reports: [EpochReport], regression: Bool) {
        self.init(title: title, history: reports.map {
            Epoch(epoch: $0.epoch, trainLoss: $0.trainLoss, testLoss: $0.test.loss, testAccuracy: $0.test.accuracy)
        }, regression: regression)
    }

    /// The sine series and `network`'s one-step predictions over it, for the tutorial's figure.
    static func sineFit(_ network: Model) -> SequenceFit {
        let series = SineWaveDataset()
        let predictions = network.predictions(on: series.samples)
        return SequenceFit(times: series.targetTimes, truth: series.samples.targets.map(Double.init),
                           predicted: predictions.map(Double.init))
    }
}
