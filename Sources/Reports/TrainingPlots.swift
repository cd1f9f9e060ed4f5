/// The pictures `trainer train --plot` draws: loss and accuracy per epoch, and for the sine series
/// the tutorial's true-versus-predicted figure.
public struct TrainingPlots {
    /// A series and a model's predictions of it, point by point.
    public struct SequenceFit {
        var times: [Double]
        var truth: [Double]
        var predicted: [Double]

        /// The series' `times`, its true values and the predicted ones.
        public init(times: [Double], truth: [Double], predicted: [Double]) {
            self.times = times
            self.truth = truth
            self.predicted = predicted
        }
    }

    /// One finished epoch's figures.
    public struct Epoch {
        var epoch: Int
        var trainLoss: Double
        var testLoss: Double
        /// A fraction in [0, 1].
        var testAccuracy: Double

        /// The figures of epoch `epoch`.
        public init(epoch: Int, trainLoss: Double, testLoss: Double, testAccuracy: Double) {
            self.epoch = epoch
            self.trainLoss = trainLoss
            self.testLoss = testLoss
            self.testAccuracy = testAccuracy
        }
    }

    let title: String
    let history: [Epoch]
    let regression: Bool

    /// Plots titled `title` of `history`; `regression` draws the loss on a log axis and no accuracy.
    public init(title: String, history: [Epoch], regression: Bool) {
        self.title = title
        self.history = history
        self.regression = regression
    }

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
                                    .init(name: "test loss", points: zip(epochs, history.map(\.testLoss)).map { (x: $0, y: $1) }),
                                ], logScaleY: regression))
        if !regression {
            charts.append(LineChart(title: "\(title): test accuracy per epoch", xLabel: "epoch", yLabel: "accuracy (%)", series: [
                .init(name: "test accuracy", points: zip(epochs, history.map { 100 * $0.testAccuracy }).map { (x: $0, y: $1) }),
            ]))
        }
        return charts
    }

    /// Writes the charts stacked in one SVG file.
    public func write(to path: String, sequenceFit: SequenceFit?) throws {
        try LineChart.write(charts(sequenceFit: sequenceFit), to: path)
    }
}
