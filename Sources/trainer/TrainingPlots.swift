import Datasets
import Engine

/// The pictures `trainer train --plot` draws: loss and accuracy per epoch, and for the sine series
/// the tutorial's true-versus-predicted figure.
struct TrainingPlots {
    /// A series and a model's predictions of it, point by point.
    struct SequenceFit {
        var times: [Double]
        var truth: [Double]
        var predicted: [Double]
    }

    let title: String
    let history: [EpochReport]
    let regression: Bool

    /// The charts, top to bottom.
    func charts(sequenceFit: SequenceFit?) -> [LineChart] {
        var charts: [LineChart] = []
        if let fit = sequenceFit {
            charts.append(LineChart(title: "\(title): true vs predicted", xLabel: "t", yLabel: "sin(t)", series: [
                .init(name: "True", points: zip(fit.times, fit.truth).map { (x: $0, y: $1) }),
                .init(name: "Predicted", points: zip(fit.times, fit.predicted).map { (x: $0, y: $1) }),
            ]))
        }
        let epochs = history.map { Double($0.epoch) }
        charts.append(LineChart(title: "\(title): loss per epoch", xLabel: "epoch", yLabel: regression ? "mean squared error" : "loss",
                                series: [
                                    .init(name: "training loss", points: zip(epochs, history.map(\.trainLoss)).map { (x: $0, y: $1) }),
                                    .init(name: "test loss", points: zip(epochs, history.map(\.test.loss)).map { (x: $0, y: $1) }),
                                ], logScaleY: regression))
        if !regression {
            charts.append(LineChart(title: "\(title): test accuracy per epoch", xLabel: "epoch", yLabel: "accuracy (%)", series: [
                .init(name: "test accuracy", points: zip(epochs, history.map { 100 * $0.test.accuracy }).map { (x: $0, y: $1) }),
            ]))
        }
        return charts
    }

    /// The sine series and `network`'s one-step predictions over it, for the tutorial's figure.
    static func sineFit(_ network: Model) -> SequenceFit {
        let series = SineWaveDataset()
        let predictions = network.predictions(on: series.samples)
        return SequenceFit(times: series.targetTimes, truth: series.samples.targets.map(Double.init),
                           predicted: predictions.map(Double.init))
    }

    /// Writes the charts stacked in one SVG file.
    func write(to path: String, sequenceFit: SequenceFit?) throws {
        try LineChart.write(charts(sequenceFit: sequenceFit), to: path)
    }
}
