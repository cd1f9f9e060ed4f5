import Testing
@testable import Engine

/// The 2×2 max-pool fast path against the general path, ties and NaN.
@Suite struct PoolingTests {
    @Test func fastPathMatchesTheGeneralPath() {
        let values = randomFloats(2 * 3 * 6 * 8, in: -1...1, seed: 31).map { $0 > 0.5 ? 0 : $0 }  // plenty of ties at 0
        let fast = MaxPool2d(2)
        let x = Tensor(shape: [2, 3, 6, 8], values: values)
        let fastOutput = fast.forward(x, mode: .training).scalars
        let upstream = Tensor(shape: [2, 3, 3, 4], values: randomFloats(72, in: -1...1, seed: 32))
        let fastGradient = fast.backward(upstream, needsInputGradient: true)!.scalars

        // The same input with a NaN in one extra sample takes the general path for the whole batch.
        let general = MaxPool2d(2)
        let withNaN = Tensor(shape: [3, 3, 6, 8], values: values + [Float.nan] + [Float](repeating: 1, count: 143))
        let generalOutput = general.forward(withNaN, mode: .training).scalars
        let generalUpstream = Tensor(shape: [3, 3, 3, 4], values: upstream.scalars + [Float](repeating: 0, count: 36))
        let generalGradient = general.backward(generalUpstream, needsInputGradient: true)!.scalars

        #expect(Array(generalOutput.prefix(72)) == fastOutput)
        #expect(Array(generalGradient.prefix(288)) == fastGradient)
        #expect(generalOutput[72].isNaN, "NaN must propagate through max-pooling, as in PyTorch")
    }

    @Test func tiesSendTheGradientToTheFirstMaximum() {
        let pool = MaxPool2d(2)
        let x = Tensor(shape: [1, 1, 2, 2], values: [0, 0, 0, 0])
        _ = pool.forward(x, mode: .training)
        let gradient = pool.backward(Tensor(shape: [1, 1, 1, 1], values: [1]), needsInputGradient: true)!
        #expect(gradient.scalars == [1, 0, 0, 0])
    }
}
