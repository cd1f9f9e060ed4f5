import Testing
import TestSupport
@testable import Engine

/// Conv2d, the poolings and Flatten against central finite differences, with stride and padding.
@Suite("Convolution gradient checks", .blocking)
struct ConvolutionGradientCheckTests {
    @Test(arguments: [(stride: 1, padding: 1), (stride: 2, padding: 0), (stride: 2, padding: 1), (stride: 1, padding: 0)])
    func conv2d(stride: Int, padding: Int) {
        let layer = Conv2d(2, 3, kernelSize: 3, stride: stride, padding: padding)
        checkLayerGradients(layer, inputShape: [2, 2, 5, 6], input: randomFloats(120, in: -2...2, seed: 11),
                            "Conv2d(2, 3, k3, s\(stride), p\(padding))")
    }

    @Test func conv2dRectangularKernelWithoutBias() {
        let layer = Conv2d(3, 2, kernelSize: (2, 3), stride: (1, 2), padding: (1, 0), bias: false)
        #expect(layer.parameterSpecs == [ParameterSpec("weight", [2, 3, 2, 3])])
        checkLayerGradients(layer, inputShape: [2, 3, 4, 5], input: randomFloats(120, in: -2...2, seed: 12),
                            "Conv2d(3, 2, k2x3, s1x2, p1x0, no bias)")
    }

    @Test func conv2dShapesAndNames() {
        let layer = Conv2d(3, 32, kernelSize: 3, padding: 1)
        #expect(layer.parameterSpecs == [ParameterSpec("weight", [32, 3, 3, 3]), ParameterSpec("bias", [32])])
        let model = Model(layer)
        #expect(model.forward(Tensor(zeros: [4, 3, 32, 32])).shape == [4, 32, 32, 32])
        #expect(layer.outputSize(height: 7, width: 8) == (7, 8))
        #expect(Conv2d(1, 1, kernelSize: 3, stride: 2).outputSize(height: 7, width: 8) == (3, 3))
    }

    /// Distinct, well-separated values so that a ±step never changes which element is the maximum.
    static func distinctValues(_ count: Int, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return generator.permutation(count).map { Float($0) * 0.1 - Float(count) * 0.05 }
    }

    @Test(arguments: [(kernel: 2, stride: 2, padding: 0), (kernel: 3, stride: 2, padding: 1), (kernel: 3, stride: 1, padding: 0)])
    func maxPool(kernel: Int, stride: Int, padding: Int) {
        checkLayerGradients(MaxPool2d(kernel, stride: stride, padding: padding), inputShape: [2, 2, 5, 6],
                            input: Self.distinctValues(120, seed: 13), step: 1e-2,
                            "MaxPool2d(\(kernel), s\(stride), p\(padding))")
    }

    @Test(arguments: [(kernel: 2, stride: 2, padding: 0), (kernel: 3, stride: 2, padding: 1), (kernel: 3, stride: 1, padding: 0)])
    func avgPool(kernel: Int, stride: Int, padding: Int) {
        checkLayerGradients(AvgPool2d(kernel, stride: stride, padding: padding), inputShape: [2, 2, 5, 6],
                            input: randomFloats(120, in: -2...2, seed: 14),
                            "AvgPool2d(\(kernel), s\(stride), p\(padding))")
    }

    @Test func poolingValues() {
        let x = Tensor(shape: [1, 1, 2, 4], values: [1, 5, 2, 0, 3, -1, 4, 8])
        #expect(MaxPool2d(2).forward(x, mode: .evaluation).scalars == [5, 8])
        #expect(AvgPool2d(2).forward(x, mode: .evaluation).scalars == [2, 3.5])
        // Padding counts as zeros in the mean (count_include_pad) and never wins the maximum.
        let y = Tensor(shape: [1, 1, 1, 1], values: [-4])
        #expect(MaxPool2d(2, stride: 1, padding: 1).forward(y, mode: .evaluation).scalars == [-4, -4, -4, -4])
        #expect(AvgPool2d(2, stride: 1, padding: 1).forward(y, mode: .evaluation).scalars == [-1, -1, -1, -1])
    }

    @Test func flatten() {
        checkLayerGradients(Flatten(), inputShape: [2, 3, 2, 2], input: randomFloats(24, in: -2...2, seed: 15), "Flatten")
        #expect(Flatten().forward(Tensor(zeros: [5, 64, 8, 8]), mode: .evaluation).shape == [5, 4096])
    }

    /// Every layer kind chained. A max-pool window whose top two inputs lie within the finite-difference
    /// step of each other measures the switch, not the derivative (seed 21 has one such window, in
    /// conv1.weight[49]); seed 22 has none.
    @Test func smallCNN() {
        let stack = Sequential([
            ("conv1", Conv2d(2, 3, kernelSize: 3, padding: 1) as any Layer), ("tanh", Tanh()), ("pool", MaxPool2d(2)),
            ("conv2", Conv2d(3, 2, kernelSize: 3, stride: 2, padding: 1)), ("avg", AvgPool2d(2, stride: 1)),
            ("flatten", Flatten()), ("fc", Linear(2, 3)),
        ])
        checkGradients(of: Model(stack, seed: 22), inputShape: [2, 2, 6, 6], input: randomFloats(144, in: -2...2, seed: 16),
                       step: 2e-3, "small CNN")
    }

    @Test func tutorialCNNHasPyTorchNamesAndShapes() {
        let model = Model(Models.cnn())
        #expect(model.views.map(\.name) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                            "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        #expect(model.views.map(\.shape) == [[32, 3, 3, 3], [32], [64, 32, 3, 3], [64], [512, 4096], [512], [10, 512], [10]])
        #expect(model.parameterCount == 2_122_186)
        #expect(model.forward(Tensor(zeros: [3, 3, 32, 32])).shape == [3, 10])
    }
}
