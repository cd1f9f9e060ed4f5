import Foundation
import Testing
import TestSupport
@testable import Engine

/// The tutorial MLP against PyTorch (Fixtures/mlp_golden.safetensors, made by scripts/make_fixtures.py).
///
/// Both sides start from the same formula parameters and batch, so nothing but the results is stored.
/// Reading the file with `Safetensors.read` also proves our reader reads PyTorch's writer.
@Suite("Golden MLP (PyTorch)", .blocking)
struct GoldenMLPTests {
    static let batchSize = 8
    static let labels: [Int32] = (0..<8).map { Int32((3 * $0) % 10) }

    let golden: [String: StoredTensor]

    init() throws {
        golden = try Safetensors.read(from: fixturePath("mlp_golden.safetensors")).tensors
    }

    /// Model(Models.mlp()) with tensor k of the state_dict set to formulaValues(k, scale 0.2).
    static func formulaModel() -> Model {
        let model = Model(Models.mlp())
        for (k, view) in model.views.enumerated() {
            let values = formulaValues(k: k, count: view.count, scale: 0.2)
            values.withUnsafeBufferPointer { (model.parameters.baseAddress! + view.offset).update(from: $0.baseAddress!, count: view.count) }
        }
        return model
    }

    static func formulaBatch() -> Tensor {
        Tensor(shape: [batchSize, 784], values: formulaValues(k: 100, count: batchSize * 784, scale: 2))
    }

    func expected(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> StoredTensor {
        try #require(golden[name], "fixture has no tensor \(name)", sourceLocation: sourceLocation)
    }

    @Test func fixtureHoldsEveryTensor() throws {
        let file = try Safetensors.read(from: fixturePath("mlp_golden.safetensors"))
        let names = Models.mlp().parameterSpecs.map(\.name)
        let expectedNames = Set(["logits", "loss", "loss_after.sgd", "loss_after.adam"]
            + names.flatMap { ["grad.\($0)", "sgd3.\($0)", "adam3.\($0)"] })
        #expect(Set(file.tensors.keys) == expectedNames)
        #expect(file.order.count == expectedNames.count)
        #expect(file.metadata["made_by"]?.hasPrefix("scripts/make_fixtures.py with torch ") == true)
        #expect(file.tensors["logits"]?.shape == [8, 10])
        #expect(file.tensors["loss"]?.shape == [1])
        for spec in Models.mlp().parameterSpecs {
            #expect(file.tensors["grad.\(spec.name)"]?.shape == spec.shape)
        }
    }

    @Test func forwardAndLoss() throws {
        let model = Self.formulaModel()
        let logits = model.forward(Self.formulaBatch())
        #expect(logits.shape == [8, 10])
        let expectedLogits = try expected("logits")
        let logitsDiff = maxAbsDifference(logits.scalars, expectedLogits.values)
        reportDifference("logits max abs diff", logitsDiff)
        #expect(logitsDiff <= 1e-5 * max(1, maxAbs(expectedLogits.values)))

        let loss = Criterion(.classification).loss(logits, labels: Self.labels, targets: Tensor())
        let expectedLoss = try expected("loss").values[0]
        reportDifference("loss abs diff", abs(loss - expectedLoss))
        #expect(abs(loss - expectedLoss) <= 1e-5 * max(1, abs(expectedLoss)))
    }

    @Test func evaluationModeGivesTheSameLogits() throws {
        let model = Self.formulaModel()
        let logits = model.forward(Self.formulaBatch(), mode: .evaluation).scalars
        #expect(maxAbsDifference(logits, try expected("logits").values) <= 1e-5 * 10)
    }

    @Test func gradients() throws {
        let model = Self.formulaModel()
        let criterion = Criterion(.classification)
        _ = criterion.loss(model.forward(Self.formulaBatch()), labels: Self.labels, targets: Tensor())
        model.zeroGradients()
        model.backward(criterion.backward())
        for view in model.views {
            let reference = try expected("grad.\(view.name)")
            #expect(reference.shape == view.shape)
            let ours = try #require(model.gradientValues(named: view.name))
            let scale = maxAbs(reference.values)
            let difference = maxAbsDifference(ours, reference.values)
            reportDifference("grad.\(view.name) max abs diff (max |grad| \(scale))", difference)
            #expect(scale > 0, "grad.\(view.name) is zero in the fixture")
            #expect(difference <= 1e-4 * scale, "grad.\(view.name): max abs diff \(difference), max |grad| \(scale)")
        }
    }

    /// Three steps of forward, loss, backward and the optimiser on the same batch, as the script does.
    func train(_ optimizer: any Optimizer, model: Model) -> Float {
        let criterion = Criterion(.classification)
        let x = Self.formulaBatch()
        for _ in 0..<3 {
            model.zeroGradients()
            _ = criterion.loss(model.forward(x), labels: Self.labels, targets: Tensor())
            model.backward(criterion.backward())
            optimizer.step(model)
        }
        return criterion.loss(model.forward(x, mode: .evaluation), labels: Self.labels, targets: Tensor())
    }

    func expectParameters(of model: Model, match prefix: String, tolerance: Float,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
        let initial = Self.formulaModel()
        for view in model.views {
            let reference = try expected("\(prefix).\(view.name)", sourceLocation: sourceLocation)
            let ours = try #require(model.parameterValues(named: view.name))
            let difference = maxAbsDifference(ours, reference.values)
            reportDifference("\(prefix).\(view.name) max abs diff", difference)
            #expect(difference <= tolerance, "\(prefix).\(view.name): max abs diff \(difference)",
                    sourceLocation: sourceLocation)
            // The steps must have moved the parameters by much more than the tolerance.
            let moved = maxAbsDifference(initial.parameterValues(named: view.name)!, reference.values)
            #expect(moved > 100 * tolerance, "\(prefix).\(view.name) barely moved (\(moved))",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func threeStepsOfSGDWithMomentum() throws {
        let model = Self.formulaModel()
        let optimizer = SGD(parameterCount: model.parameterCount, learningRate: 0.01, momentum: 0.9)
        let lossAfter = train(optimizer, model: model)
        #expect(optimizer.stepCount == 3)
        try expectParameters(of: model, match: "sgd3", tolerance: 1e-6)
        let expectedLoss = try expected("loss_after.sgd").values[0]
        reportDifference("loss_after.sgd abs diff", abs(lossAfter - expectedLoss))
        #expect(abs(lossAfter - expectedLoss) <= 1e-5 * max(1, abs(expectedLoss)))
    }

    @Test func threeStepsOfAdam() throws {
        let model = Self.formulaModel()
        let optimizer = Adam(parameterCount: model.parameterCount, learningRate: 0.001)
        let lossAfter = train(optimizer, model: model)
        #expect(optimizer.stepCount == 3)
        // Adam divides by √v + ε with ε = 1e-8, so where the gradient is itself ~1e-8 (a few fc1 weights
        // whose batch contributions cancel) the last-bit differences of two matrix products (~2e-9) become
        // ~1e-5 in the step, more when the product is split across threads. Those elements are only held
        // to Adam's step bound (at most about lr per step); everywhere else, including exact zeros, the
        // results agree to rounding.
        for view in model.views {
            let gradient = try expected("grad.\(view.name)").values
            let reference = try expected("adam3.\(view.name)").values
            let start = formulaValues(k: model.views.firstIndex(of: view)!, count: view.count, scale: 0.2)
            let ours = try #require(model.parameterValues(named: view.name))
            let nearZero = ours.indices.filter { gradient[$0] != 0 && abs(gradient[$0]) < 1e-5 }
            let clear = ours.indices.filter { gradient[$0] == 0 || abs(gradient[$0]) >= 1e-5 }
            let difference = maxAbsDifference(clear.map { ours[$0] }, clear.map { reference[$0] })
            reportDifference("adam3.\(view.name) max abs diff where grad = 0 or |grad| >= 1e-5", difference)
            reportDifference("adam3.\(view.name) max abs diff where 0 < |grad| < 1e-5 (\(nearZero.count) elements)",
                             maxAbsDifference(nearZero.map { ours[$0] }, nearZero.map { reference[$0] }))
            #expect(difference <= 1e-7, "adam3.\(view.name) where grad = 0 or |grad| >= 1e-5: max abs diff \(difference)")
            #expect(nearZero.count <= ours.count / 50, "adam3.\(view.name): \(nearZero.count) gradients near zero")
            for i in nearZero {
                #expect(abs(ours[i] - start[i]) <= 3.1e-3,
                        "adam3.\(view.name)[\(i)]: \(ours[i]), PyTorch \(reference[i]), start \(start[i])")
            }
            let moved = maxAbsDifference(start, reference)
            #expect(moved > 1e-3, "adam3.\(view.name) barely moved (\(moved))")
        }
        let expectedLoss = try expected("loss_after.adam").values[0]
        reportDifference("loss_after.adam abs diff", abs(lossAfter - expectedLoss))
        #expect(abs(lossAfter - expectedLoss) <= 1e-5 * max(1, abs(expectedLoss)))
    }

    /// The formula in Swift gives exactly the values Python computed (spot checks of the same formula).
    @Test func formulaMatchesPython() {
        // float32((u - 0.5) * 0.2) for k = 0, i = 0: u = 12345 / 2^32.
        #expect(formulaValues(k: 0, count: 1, scale: 0.2)[0] == Float((12345.0 / 4_294_967_296 - 0.5) * 0.2))
        // i = 1, k = 1: 2654435761 + 97531 + 12345 = 2654545637 < 2^32.
        #expect(formulaValues(k: 1, count: 2, scale: 2)[1] == Float((2_654_545_637.0 / 4_294_967_296 - 0.5) * 2))
        // i = 2, k = 0 wraps: 2 · 2654435761 + 12345 − 2^32 = 1013916571.
        #expect(formulaValues(k: 0, count: 3, scale: 2)[2] == Float((1_013_916_571.0 / 4_294_967_296 - 0.5) * 2))
    }

    /// Writes the formula MLP with our writer when ENGINE_EXPORT_SAFETENSORS names a file, for
    /// `python3 scripts/make_fixtures.py --verify FILE` to check that Python's safetensors reads it.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ENGINE_EXPORT_SAFETENSORS"] != nil))
    func exportForPythonCheck() throws {
        let path = try #require(ProcessInfo.processInfo.environment["ENGINE_EXPORT_SAFETENSORS"])
        try Self.formulaModel().save(to: path, metadata: ["made_by": "EngineTests"])
    }
}
