import Testing
import TestSupport
@testable import Engine

@Suite("Model", .blocking)
struct ModelTests {
    @Test func mlpViewsAreInStateDictOrder() {
        let model = Model(Models.mlp())
        let expected = [
            ParameterView(name: "fc1.weight", shape: [128, 784], offset: 0),
            ParameterView(name: "fc1.bias", shape: [128], offset: 100_352),
            ParameterView(name: "fc2.weight", shape: [64, 128], offset: 100_480),
            ParameterView(name: "fc2.bias", shape: [64], offset: 108_672),
            ParameterView(name: "fc3.weight", shape: [10, 64], offset: 108_736),
            ParameterView(name: "fc3.bias", shape: [10], offset: 109_376),
        ]
        #expect(model.views == expected)
        #expect(model.parameterCount == 109_386)
        #expect(model.gradients.count == 109_386)
        #expect(model.views.last!.range.upperBound == model.parameterCount)
    }

    @Test func namedAccessorsPointIntoTheFlatBuffers() throws {
        let model = Model(Models.mlp())
        let bias = try #require(model.parameter(named: "fc2.bias"))
        #expect(bias.count == 64)
        #expect(bias.baseAddress == model.parameters.baseAddress! + 108_672)
        let gradient = try #require(model.gradient(named: "fc3.weight"))
        #expect(gradient.baseAddress == model.gradients.baseAddress! + 108_736)
        #expect(model.view(named: "fc4.weight") == nil)
        #expect(model.parameter(named: "relu1.weight") == nil)
    }

    @Test func perceptronAndUnnamedSequentialNames() {
        #expect(Model(Models.perceptron(inputs: 2, outputs: 1)).views.map(\.name) == ["fc.weight", "fc.bias"])
        let stack = Sequential(Linear(3, 4), ReLU(), Linear(4, 2, bias: false))
        #expect(Model(stack).views.map(\.name) == ["0.weight", "0.bias", "2.weight"])
    }

    @Test func fingerprintDependsOnArchitectureOnly() {
        let a = Model(Models.mlp(), seed: 1).fingerprint
        #expect(a == Model(Models.mlp(), seed: 2).fingerprint)
        #expect(a != Model(Models.mlp(hidden: (128, 32))).fingerprint)
        #expect(a != Model(Models.mlp(inputs: 3072)).fingerprint)
        #expect(a != Model(Models.perceptron(inputs: 784, outputs: 10)).fingerprint)
        // Same shapes under other names.
        let renamed = Sequential([("layer1", Linear(784, 128)), ("relu1", ReLU()), ("layer2", Linear(128, 64)),
                                  ("relu2", ReLU()), ("layer3", Linear(64, 10))])
        #expect(a != Model(renamed).fingerprint)
    }

    @Test func evaluationModeGivesTheTrainingOutput() {
        let model = Model(Models.mlp(), seed: 6)
        let x = Tensor(shape: [16, 784], values: randomFloats(16 * 784, in: -1...1, seed: 7))
        let evaluation = model.forward(x, mode: .evaluation).scalars
        let training = model.forward(x, mode: .training).scalars
        #expect(evaluation == training)
        #expect(model.forward(x, mode: .evaluation).scalars == evaluation)
    }

    @Test func sameSeedSameInitialisationOtherSeedOther() {
        let a = Model(Models.mlp(), seed: 10).parameterValues
        #expect(a == Model(Models.mlp(), seed: 10).parameterValues)
        #expect(a != Model(Models.mlp(), seed: 11).parameterValues)
        #expect(Model(Models.mlp()).gradientValues.allSatisfy { $0 == 0 })
    }

    /// PyTorch's default Linear initialisation: weight and bias uniform in ±1/√fan_in.
    @Test func linearInitialisationMatchesPyTorchsBounds() throws {
        let model = Model(Models.mlp(), seed: 12)
        for view in model.views {
            let fanIn = view.name.hasPrefix("fc1") ? 784 : view.name.hasPrefix("fc2") ? 128 : 64
            let bound = 1 / Float(fanIn).squareRoot()
            let values = try #require(model.parameterValues(named: view.name))
            #expect(values.allSatisfy { abs($0) <= bound }, "\(view.name) leaves ±\(bound)")
            guard values.count >= 600 else { continue }
            // Uniform(−b, b): mean 0, standard deviation b/√3, and values reach close to ±b.
            let n = Double(values.count)
            let mean = values.reduce(0.0) { $0 + Double($1) } / n
            let deviation = (values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n).squareRoot()
            let expected = Double(bound) / 3.0.squareRoot()
            #expect(abs(mean) < 0.05 * Double(bound), "\(view.name) mean \(mean)")
            #expect(abs(deviation / expected - 1) < 0.05, "\(view.name) std \(deviation), expected \(expected)")
            #expect(values.max()! > 0.95 * bound && values.min()! < -0.95 * bound)
        }
    }

    @Test func linearComputesXWTransposedPlusB() {
        let model = Model(Linear(3, 2))
        let weight: [Float] = [1, 2, 3, -1, 0, 0.5], bias: [Float] = [0.25, -1]
        for (i, value) in (weight + bias).enumerated() { model.parameters[i] = value }
        let y = model.forward(Tensor(shape: [2, 3], values: [1, 1, 1, 2, 0, -2])).scalars
        #expect(y == [6.25, -1.5, -3.75, -4])
    }

    @Test func backwardAccumulatesUntilZeroed() {
        let model = Model(Models.mlp(inputs: 5, hidden: (4, 3), outputs: 2), seed: 13)
        let x = Tensor(shape: [3, 5], values: randomFloats(15, in: -1...1, seed: 14))
        let upstream = Tensor(shape: [3, 2], values: [1, -1, 0.5, 2, -0.5, 1])
        _ = model.forward(x)
        model.backward(upstream)
        let once = model.gradientValues
        #expect(once.contains { $0 != 0 })
        _ = model.forward(x)
        model.backward(upstream)
        #expect(model.gradientValues == once.map { $0 + $0 })
        model.zeroGradients()
        #expect(model.gradientValues.allSatisfy { $0 == 0 })
    }

    @Test func tensorBasics() {
        let t = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        #expect(t.rows == 2 && t.columns == 3 && t.count == 6)
        t.resize(to: [3, 2])
        #expect(t.scalars == [1, 2, 3, 4, 5, 6], "same count keeps the contents")
        t.resize(to: [4, 4])
        #expect(t.count == 16 && t.shape == [4, 4])
        let copy = Tensor()
        copy.copy(from: Tensor(shape: [1, 2], values: [7, 8]))
        #expect(copy.shape == [1, 2] && copy.scalars == [7, 8])
        copy.zero()
        #expect(copy.scalars == [0, 0])
        #expect(Tensor(zeros: [0, 5]).columns == 0)
    }
}
