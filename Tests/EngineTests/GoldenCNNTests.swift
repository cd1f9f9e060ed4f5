import Testing
import TestSupport
@testable import Engine

/// The tutorial's CNN against PyTorch (scripts/make_fixtures.py, `make_cnn_golden`): forward and
/// backward on two images from formula-built weights.
@Suite(.blocking) struct GoldenCNNTests {
    static let fixture = "cnn_golden.safetensors"
    static let fc1Stride = 997

    /// The CNN with parameter j set to formula(500 + j, n, 2/√fan_in), as the script sets it.
    static func formulaModel() -> Model {
        let model = Model(Models.cnn())
        var fanIn: [String: Int] = [:]
        for (j, view) in model.views.enumerated() {
            let layer = String(view.name.split(separator: ".")[0])
            if view.name.hasSuffix("weight") { fanIn[layer] = view.count / view.shape[0] }
            let values = formulaValues(k: 500 + j, count: view.count, scale: 2 / Double(fanIn[layer]!).squareRoot())
            _ = UnsafeMutableBufferPointer(rebasing: model.parameters[view.range]).update(from: values)
        }
        return model
    }

    @Test func forwardAndBackwardMatchPyTorch() throws {
        let file = try Safetensors.read(from: fixturePath(Self.fixture))
        func stored(_ name: String) throws -> StoredTensor { try #require(file.tensors[name], "fixture lacks \(name)") }
        let model = Self.formulaModel()
        let x = Tensor(shape: [2, 3, 32, 32], values: formulaValues(k: 600, count: 2 * 3 * 32 * 32, scale: 2))
        let criterion = CrossEntropyLoss()
        model.zeroGradients()
        let logits = model.forward(x)
        let loss = criterion.forward(logits, labels: [3, 7])
        model.backward(criterion.backward())

        let expectedLogits = try stored("logits")
        #expect(logits.shape == expectedLogits.shape)
        let logitError = maxAbsDifference(logits.scalars, expectedLogits.values)
        reportDifference("cnn logits max abs diff", logitError)
        #expect(logitError <= 1e-4 * max(1, maxAbs(expectedLogits.values)))
        #expect(abs(loss - (try stored("loss")).values[0]) <= 1e-5)

        for view in model.views where view.name != "fc1.weight" {
            let expected = try stored("grad.\(view.name)")
            #expect(expected.shape == view.shape)
            let ours = Array(model.gradients[view.range])
            let scale = maxAbs(expected.values)
            #expect(scale > 0, "grad.\(view.name) is zero in the fixture")
            let error = maxAbsDifference(ours, expected.values)
            reportDifference("cnn grad.\(view.name) max abs diff", error)
            #expect(error <= 1e-4 * scale, "grad.\(view.name): max abs diff \(error), max |grad| \(scale)")
        }

        // fc1.weight: every 997th entry, and the sum and sum of squares of all 2,097,152.
        let fc1 = try #require(model.view(named: "fc1.weight"))
        let ours = Array(model.gradients[fc1.range])
        let sample = Swift.stride(from: 0, to: ours.count, by: Self.fc1Stride).map { ours[$0] }
        let expectedSample = try stored("grad.fc1.weight.every997")
        #expect(sample.count == expectedSample.values.count)
        #expect(maxAbsDifference(sample, expectedSample.values) <= 1e-4 * maxAbs(expectedSample.values))
        let sums = try stored("grad.fc1.weight.sums").values
        let sum = ours.reduce(0.0) { $0 + Double($1) }, squares = ours.reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(abs(sum - Double(sums[0])) <= 1e-4 * max(1, abs(Double(sums[0]))), "sum \(sum) vs \(sums[0])")
        #expect(abs(squares - Double(sums[1])) <= 1e-4 * Double(sums[1]), "sum of squares \(squares) vs \(sums[1])")
    }
}
