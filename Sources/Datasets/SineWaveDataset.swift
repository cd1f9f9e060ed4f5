import Foundation

/// The tutorial's time series: sin(t) at t = 0, 0.1, …, 99.9 (`np.arange(0, 100, 0.1)`, 1000 points), cut
/// into sliding windows.
/// Each sample is `windowLength` consecutive values, shaped [time, features] = [20, 1] so that a batch
/// is [batch, time, features] (batch-first, as `nn.RNN(batch_first=True)` takes it), and its
/// regression target is the value that follows the window.
public struct SineWaveDataset: Sendable {
    /// The windows and next values: 980 samples of [20, 1] with one target each by default.
    public let samples: LabeledDataset
    /// The time of every point of the curve: t_i = Double(i) · step.
    public let times: [Double]
    /// sin(t_i) for every point, as the floats the windows hold.
    public let values: [Float]
    /// The time of each sample's target (the point it predicts), for plotting predictions against t.
    public let targetTimes: [Double]
    /// The number of values in each input window.
    public let windowLength: Int

    /// Builds the series: `pointCount` points t_i = Double(i) · `step` (i = 0 ..< pointCount), inputs
    /// values[i ..< i + windowLength], target values[i + windowLength], for every i that has a target.
    public init(pointCount: Int = 1000, step: Double = 0.1, windowLength: Int = 20, name: String = "sine") {
        precondition(windowLength > 0 && pointCount > windowLength, "the series must be longer than one window")
        let times = (0..<pointCount).map { Double($0) * step }
        let values = times.map { Float(sin($0)) }
        let count = pointCount - windowLength
        var features: [Float] = []
        features.reserveCapacity(count * windowLength)
        for start in 0..<count { features += values[start..<start + windowLength] }
        self.samples = LabeledDataset(name: name, sampleShape: [windowLength, 1], features: features,
                                      targets: Array(values[windowLength...]), targetSize: 1)
        self.times = times
        self.values = values
        self.targetTimes = Array(times[windowLength...])
        self.windowLength = windowLength
    }

    /// The tutorial's set: 980 windows of 20 values of sin over t = 0, 0.1, …, 99.9, targets sin(2.0) … sin(99.9).
    public static func load() -> LabeledDataset { SineWaveDataset().samples }
}
