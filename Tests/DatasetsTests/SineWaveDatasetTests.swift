import Foundation
import Testing
import TestSupport
@testable import Datasets

@Suite(.blocking) struct SineWaveDatasetTests {
    @Test func windowsOfTwentyPredictTheNextValue() {
        let sine = SineWaveDataset()
        let set = sine.samples
        #expect(sine.times.count == 1000)
        #expect(set.count == 980)
        #expect(set.sampleShape == [20, 1])
        #expect(set.targetSize == 1)
        #expect(set.classCount == 0)
        #expect(Array(set.features[0..<20]) == (0..<20).map { Float(sin(Double($0) * 0.1)) })
        #expect(set.targets.first == Float(sin(2.0)))
        #expect(set.targets.last == Float(sin(999 * 0.1)))
        // Sample i is values i ..< i + 20, target value i + 20.
        let i = 500
        #expect(Array(set.features[i * 20..<(i + 1) * 20]) == Array(sine.values[i..<i + 20]))
        #expect(set.targets[i] == Float(sin(Double(i + 20) * 0.1)))
    }

    @Test func targetTimesAreThePredictedPoints() {
        let sine = SineWaveDataset()
        #expect(sine.targetTimes.count == 980)
        #expect(sine.targetTimes.first == 2.0)
        #expect(sine.targetTimes.last == 999 * 0.1)
        for (index, t) in sine.targetTimes.enumerated() { #expect(sine.samples.targets[index] == Float(sin(t))) }
    }

    @Test func batchesAreBatchFirst() {
        let loader = DataLoader(SineWaveDataset.load(), batchSize: 64, shuffle: false)
        let batch = loader.epoch(1).first { _ in true }!
        #expect(batch.inputs.shape == [64, 20, 1])
        #expect(batch.targets.shape == [64, 1])
        #expect(batch.inputs[20] == Float(sin(0.1)))
    }

    @Test func otherLengthsAndSteps() {
        let sine = SineWaveDataset(pointCount: 11, step: 0.5, windowLength: 3)
        #expect(sine.samples.count == 8)
        #expect(sine.samples.sampleShape == [3, 1])
        #expect(sine.targetTimes == (3..<11).map { Double($0) * 0.5 })
    }
}
