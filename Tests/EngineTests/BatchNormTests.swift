import Foundation
import Testing
import TestSupport
@testable import Engine

/// BatchNorm2d against PyTorch (scripts/make_normalization_fixtures.py), its buffers, and finite differences.
@Suite(.blocking) struct BatchNormTests {
    static let shape = [4, 3, 5, 6]
    static var count: Int { shape.reduce(1, *) }

    /// The fixture's layer: weight 1 + formula(700), bias formula(701), running mean formula(702),
    /// running variance 1 + formula(703).
    static func fixtureModel() throws -> (Model, BatchNorm2d) {
        let layer = BatchNorm2d(3)
        let model = Model(layer)
        let weight = try #require(model.parameter(named: "weight")), bias = try #require(model.parameter(named: "bias"))
        let mean = try #require(model.buffer(named: "running_mean"))
        let variance = try #require(model.buffer(named: "running_var"))
        _ = weight.update(from: formulaValues(k: 700, count: 3, scale: 1).map { $0 + 1 })
        _ = bias.update(from: formulaValues(k: 701, count: 3, scale: 1))
        _ = mean.update(from: formulaValues(k: 702, count: 3, scale: 1))
        _ = variance.update(from: formulaValues(k: 703, count: 3, scale: 1).map { $0 + 1 })
        return (model, layer)
    }

    static func input(_ k: Int, scale: Double, offset: Float = 0) -> Tensor {
        Tensor(shape: shape, values: formulaValues(k: k, count: count, scale: scale).map { $0 + offset })
    }

    @Test func trainingAndEvaluationMatchPyTorch() throws {
        let file = try Safetensors.read(from: fixturePath("batchnorm_golden.safetensors"))
        func stored(_ name: String) throws -> [Float] { try #require(file.tensors[name], "fixture lacks \(name)").values }
        let (model, layer) = try Self.fixtureModel()
        func expectBuffers(_ prefix: String) throws {
            expectElementsClose(Array(try #require(model.buffer(named: "running_mean"))), try stored("\(prefix).running_mean"),
                                relative: 1e-5, absolute: 1e-6, "\(prefix).running_mean")
            expectElementsClose(Array(try #require(model.buffer(named: "running_var"))), try stored("\(prefix).running_var"),
                                relative: 1e-5, absolute: 1e-6, "\(prefix).running_var")
            #expect(Array(try #require(model.buffer(named: "num_batches_tracked"))) == (try stored("\(prefix).num_batches_tracked")))
        }

        model.zeroGradients()
        let output = model.forward(Self.input(710, scale: 4), mode: .training)
        expectElementsClose(output.scalars, try stored("train.output"), relative: 1e-5, absolute: 1e-5, "train.output")
        let upstream = Tensor(shape: Self.shape, values: formulaValues(k: 711, count: Self.count, scale: 2))
        let inputGradient = try #require(layer.backward(upstream, needsInputGradient: true)).scalars
        expectElementsClose(inputGradient, try stored("train.grad.input"), relative: 1e-4, absolute: 1e-5, "train.grad.input")
        expectElementsClose(try #require(model.gradientValues(named: "weight")), try stored("train.grad.weight"),
                            relative: 1e-5, absolute: 1e-5, "train.grad.weight")
        expectElementsClose(try #require(model.gradientValues(named: "bias")), try stored("train.grad.bias"),
                            relative: 1e-5, absolute: 1e-5, "train.grad.bias")
        try expectBuffers("after1")

        _ = model.forward(Self.input(712, scale: 3, offset: 0.5), mode: .training)
        try expectBuffers("after2")

        let evaluation = model.forward(Self.input(713, scale: 4), mode: .evaluation)
        expectElementsClose(evaluation.scalars, try stored("eval.output"), relative: 1e-5, absolute: 1e-5, "eval.output")
        // Evaluation leaves the buffers alone.
        try expectBuffers("after2")
    }

    @Test func buffersAreInTheStateDictButNotTrained() throws {
        let model = Model(Sequential([("conv", Conv2d(2, 3, kernelSize: 3, padding: 1)), ("bn", BatchNorm2d(3))]))
        #expect(model.stateDictViews.map(\.name) == ["conv.weight", "conv.bias", "bn.weight", "bn.bias",
                                                     "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"])
        #expect(model.views.map(\.name) == ["conv.weight", "conv.bias", "bn.weight", "bn.bias"])
        #expect(model.bufferViews.map(\.name) == ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"])
        #expect(model.bufferViews.map(\.shape) == [[3], [3], []])
        #expect(model.parameterCount == 2 * 3 * 9 + 3 + 3 + 3)
        #expect(model.gradients.count == model.parameterCount)
        #expect(model.buffers.count == 7)
        #expect(model.gradient(named: "bn.running_mean") == nil)
        #expect(Array(try #require(model.buffer(named: "bn.running_var"))) == [1, 1, 1])

        // A training step moves the running statistics; the optimiser (with weight decay, which would
        // move anything it saw) and zeroing the gradients leave them as the forward pass set them.
        let x = Tensor(shape: [2, 2, 4, 4], values: randomFloats(64, in: -2...2, seed: 3))
        let criterion = MSELoss()
        let output = model.forward(x, mode: .training)
        _ = criterion.forward(output, target: Tensor(zeros: output.shape))
        model.zeroGradients()
        model.backward(criterion.backward())
        let buffersAfterForward = Array(model.buffers), parametersBefore = model.parameterValues
        #expect(buffersAfterForward[6] == 1)
        #expect(buffersAfterForward[0..<3].contains { $0 != 0 })
        let optimizer = SGD(parameterCount: model.parameterCount, learningRate: 0.1, momentum: 0.9, weightDecay: 0.5)
        optimizer.step(model)
        model.zeroGradients()
        #expect(Array(model.buffers) == buffersAfterForward)
        #expect(model.parameterValues != parametersBefore)
    }

    @Test func stateDictRoundTripsThroughSafetensors() throws {
        let model = Model(Sequential([("conv", Conv2d(3, 4, kernelSize: 3, padding: 1)), ("bn", BatchNorm2d(4))]), seed: 5)
        for i in 0..<3 {
            _ = model.forward(Tensor(shape: [2, 3, 4, 4], values: randomFloats(96, in: -1...3, seed: UInt64(10 + i))), mode: .training)
        }
        try withTemporaryPath { path in
            try model.save(to: path)
            let file = try Safetensors.read(from: path)
            #expect(file.order == model.stateDictViews.map(\.name))
            #expect(file.tensors["bn.num_batches_tracked"] == StoredTensor(shape: [], values: [3]))
            let copy = Model(Sequential([("conv", Conv2d(3, 4, kernelSize: 3, padding: 1)), ("bn", BatchNorm2d(4))]), seed: 9)
            try copy.load(from: path)
            #expect(copy.parameterValues == model.parameterValues)
            #expect(Array(copy.buffers) == Array(model.buffers))
        }
    }

    /// The network PyTorch trained and saved (its num_batches_tracked is int64) loads by name and, in
    /// evaluation mode (Dropout passes through), gives PyTorch's output.
    @Test func aPyTorchStateDictLoadsAndEvaluatesAsInPyTorch() throws {
        let model = try Self.pyTorchNetwork()
        #expect(Array(try #require(model.buffer(named: "bn.num_batches_tracked"))) == [3])
        let golden = try Safetensors.read(from: fixturePath("batchnorm_net_golden.safetensors"))
        let input = try #require(golden.tensors["input"]), expected = try #require(golden.tensors["output"])
        let output = model.forward(Tensor(shape: input.shape, values: input.values), mode: .evaluation)
        #expect(output.shape == expected.shape)
        expectElementsClose(output.scalars, expected.values, relative: 1e-5, absolute: 1e-5, "eval output")
    }

    /// The fixture script's network with the state PyTorch saved.
    static func pyTorchNetwork() throws -> Model {
        let model = Model(Sequential([
            ("conv", Conv2d(3, 4, kernelSize: 3, padding: 1)), ("bn", BatchNorm2d(4)), ("relu", ReLU()),
            ("drop", Dropout(0.5)), ("flatten", Flatten()), ("fc", Linear(64, 3)),
        ]))
        try model.load(from: fixturePath("batchnorm_net_state.safetensors"))
        return model
    }

    /// When ENGINE_EXPORT_BATCHNORM names a file: PyTorch's network after one more training-mode pass on
    /// the golden input, written by our writer, for `python3 scripts/make_normalization_fixtures.py
    /// --verify FILE` to load into PyTorch and compare with the same pass there.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ENGINE_EXPORT_BATCHNORM"] != nil))
    func exportForPythonCheck() throws {
        let path = try #require(ProcessInfo.processInfo.environment["ENGINE_EXPORT_BATCHNORM"])
        let model = try Self.pyTorchNetwork()
        let input = try #require(try Safetensors.read(from: fixturePath("batchnorm_net_golden.safetensors")).tensors["input"])
        _ = model.forward(Tensor(shape: input.shape, values: input.values), mode: .training)
        try model.save(to: path, metadata: ["made_by": "EngineTests"])
    }

    /// Training mode: the input gradient (through the batch mean and variance), weight and bias.
    @Test(arguments: [[3, 2, 3, 4], [1, 2, 2, 3], [5, 1, 1, 2]])
    func gradientsInTrainingMode(shape: [Int]) throws {
        let model = Model(BatchNorm2d(shape[1]))
        let weight = try #require(model.parameter(named: "weight")), bias = try #require(model.parameter(named: "bias"))
        _ = weight.update(from: randomFloats(shape[1], in: 0.5...2, seed: 21))
        _ = bias.update(from: randomFloats(shape[1], in: -1...1, seed: 22))
        let count = shape.reduce(1, *)
        checkGradients(of: model, inputShape: shape, input: randomFloats(count, in: -2...2, seed: 23), step: 1e-2,
                       relative: 2e-2, absolute: 2e-4, "BatchNorm2d \(shape)")
    }
}
