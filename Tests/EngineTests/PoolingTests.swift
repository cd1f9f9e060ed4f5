import Testing
import TestSupport
@testable import Engine

/// The 2×2 max-pool fast path against the general path, ties and NaN.
@Suite(.blocking) struct PoolingTests {
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

    /// Sequential runs ReLU → MaxPool2d as one rectified pooling pass: the same output and input
    /// gradient as the two layers one after the other, on odd sizes and with windows of negatives only.
    @Test(arguments: [(kernel: 2, stride: 2, padding: 0), (kernel: 3, stride: 2, padding: 1)])
    func fusedReLUPoolMatchesTheLayersApart(kernel: Int, stride: Int, padding: Int) {
        let shape = [2, 3, 7, 9]
        let count = shape.reduce(1, *)
        let values = randomFloats(count, in: -1...1, seed: 33).enumerated().map { $0.offset % 11 == 0 ? 0 : $0.element - 0.3 }
        let x = Tensor(shape: shape, values: values)
        let fused = Sequential([("relu", ReLU() as any Layer), ("pool", MaxPool2d(kernel, stride: stride, padding: padding))])
        let relu = ReLU(), pool = MaxPool2d(kernel, stride: stride, padding: padding)
        let fusedOutput = fused.forward(x, mode: .training).scalars
        let apartOutput = pool.forward(relu.forward(x, mode: .training), mode: .training).scalars
        #expect(fusedOutput == apartOutput)
        #expect(fusedOutput.contains(0) && fusedOutput.contains { $0 > 0 }, "the input must exercise both sides of the ReLU")
        let upstream = Tensor(shape: pool.forward(x, mode: .evaluation).shape, values: randomFloats(fusedOutput.count, in: -1...1, seed: 34))
        _ = pool.forward(relu.forward(x, mode: .training), mode: .training)
        let fusedGradient = fused.backward(upstream, needsInputGradient: true)!.scalars
        let apartGradient = relu.backward(pool.backward(upstream, needsInputGradient: true)!, needsInputGradient: true)!.scalars
        #expect(fusedGradient == apartGradient)
    }

    @Test func fusedReLUPoolGradients() {
        let stack = Sequential([("relu", ReLU() as any Layer), ("pool", MaxPool2d(2))])
        // Distinct values 0.1 apart, none within the step of the ReLU's kink at 0.
        let values = ConvolutionGradientCheckTests.distinctValues(140, seed: 35).map { $0 + 0.05 }
        checkLayerGradients(stack, inputShape: [2, 2, 5, 7], input: values, step: 1e-2, "ReLU → MaxPool2d(2), fused")
    }

    @Test func tiesSendTheGradientToTheFirstMaximum() {
        let pool = MaxPool2d(2)
        let x = Tensor(shape: [1, 1, 2, 2], values: [0, 0, 0, 0])
        _ = pool.forward(x, mode: .training)
        let gradient = pool.backward(Tensor(shape: [1, 1, 1, 1], values: [1]), needsInputGradient: true)!
        #expect(gradient.scalars == [1, 0, 0, 0])
    }
}
