import Testing
import TestSupport
@testable import Engine

/// `Sequential` runs Conv2d → ReLU → MaxPool2d as one pass, pooling each sample's convolution output
/// while it is in cache: the same values and gradients as the three layers one after the other.
@Suite(.blocking) struct ConvolutionPoolFusionTests {
    /// The fused stack against the same three layers run apart: output, input gradient and every
    /// parameter gradient bit for bit, on odd sizes, a batch that does not split evenly over the
    /// threads, and both pooling paths (the 2×2 fast path and the general one with padding).
    @Test(arguments: [(kernel: 2, stride: 2, padding: 0), (kernel: 3, stride: 2, padding: 1)])
    func fusedMatchesTheLayersApart(kernel: Int, stride: Int, padding: Int) {
        let convolution = Conv2d(3, 4, kernelSize: 3, padding: 1), relu = ReLU()
        let pool = MaxPool2d(kernel, stride: stride, padding: padding)
        let stack = Sequential([("conv", convolution as any Layer), ("relu", relu), ("pool", pool)])
        let model = Model(stack, seed: 41)
        let shape = [3, 3, 7, 9]
        let x = Tensor(shape: shape, values: randomFloats(shape.reduce(1, *), in: -1...1, seed: 42))

        model.zeroGradients()
        let fusedOutput = stack.forward(x, mode: .training).scalars
        let upstream = Tensor(shape: pool.forward(relu.forward(convolution.forward(x, mode: .evaluation), mode: .evaluation),
                                                  mode: .evaluation).shape,
                              values: randomFloats(fusedOutput.count, in: -1...1, seed: 43))
        _ = stack.forward(x, mode: .training)
        let fusedInputGradient = stack.backward(upstream, needsInputGradient: true)!.scalars
        let fusedGradients = model.gradientValues

        model.zeroGradients()
        let apartOutput = pool.forward(relu.forward(convolution.forward(x, mode: .training), mode: .training), mode: .training).scalars
        let apartInputGradient = convolution.backward(relu.backward(pool.backward(upstream, needsInputGradient: true)!,
                                                                    needsInputGradient: true)!, needsInputGradient: true)!.scalars
        let apartGradients = model.gradientValues

        #expect(fusedOutput == apartOutput)
        #expect(fusedOutput.contains(0) && fusedOutput.contains { $0 > 0 }, "the input must exercise both sides of the ReLU")
        #expect(fusedInputGradient == apartInputGradient)
        #expect(fusedGradients == apartGradients)
        #expect(fusedGradients.contains { $0 != 0 })
        #expect(stack.forward(x, mode: .evaluation).scalars == fusedOutput, "evaluation pools the same way")
    }

    /// A NaN from the convolution passes the fused ReLU and pool, as it passes PyTorch's.
    @Test func nanPropagates() {
        let stack = Sequential([("conv", Conv2d(1, 2, kernelSize: 1) as any Layer), ("relu", ReLU()), ("pool", MaxPool2d(2))])
        _ = Model(stack, seed: 44)
        var values = [Float](repeating: 1, count: 2 * 16)
        values[21] = .nan
        let output = stack.forward(Tensor(shape: [2, 1, 4, 4], values: values), mode: .training).scalars
        #expect(output.count == 16)
        #expect(output[..<8].allSatisfy { !$0.isNaN }, "the first sample holds no NaN")
        #expect(output[8...].filter(\.isNaN).count == 2, "both channels of the second sample's window with the NaN")
    }

    /// The fused stack's gradients against finite differences. A ±step moves a convolution output by
    /// at most step·max(|x|, |w|) < 1e-3 here, so the input is the first of 20 draws whose ReLU inputs
    /// all lie further than that from the kink.
    @Test func fusedGradients() throws {
        let stack = Sequential([("conv", Conv2d(2, 3, kernelSize: 3, padding: 1) as any Layer), ("relu", ReLU()), ("pool", MaxPool2d(2))])
        let model = Model(stack, seed: 45)
        let shape = [2, 2, 6, 6]
        let input = try #require((46..<66).lazy.map { ConvolutionGradientCheckTests.distinctValues(144, seed: $0).map { $0 * 0.1 } }
            .first { reluInputMargin(stack, input: Tensor(shape: shape, values: $0)) > 1e-3 }, "no draw keeps its ReLU inputs off the kink")
        checkGradients(of: model, inputShape: shape, input: input, step: 1e-3, "Conv2d → ReLU → MaxPool2d, fused")
    }
}
