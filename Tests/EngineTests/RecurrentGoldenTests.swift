import Testing
import TestSupport
@testable import Engine

/// RNN, LSTM and GRU against PyTorch (Fixtures/recurrent_golden.safetensors, made by
/// scripts/make_fixtures.py): the same formula parameters, input and initial state on both sides
/// (see the script's docstring), and only PyTorch's results stored.
///
/// Every tensor is held to 1e-5 of its own largest magnitude (plus 1e-7 for tensors near zero):
/// float32 rounding of a handful of steps is about 1e-7 relative, while a wrong gate order, bias
/// placement or transpose changes the values by far more.
@Suite("Golden recurrent layers (PyTorch)", .blocking)
struct RecurrentGoldenTests {
    static let batch = 3, steps = 6, inputs = 2, hidden = 5

    let file: (tensors: [String: StoredTensor], order: [String], metadata: [String: String])

    init() throws {
        file = try Safetensors.read(from: fixturePath("recurrent_golden.safetensors"))
    }

    /// The formula base of each cell, as in the script.
    static func base(_ cell: RecurrentCell) -> Int {
        switch cell {
        case .rnn: 200
        case .lstm: 300
        case .gru: 400
        }
    }

    static func setFormulaParameters(_ model: Model, base: Int, scale: Double) {
        for (j, view) in model.views.enumerated() {
            let values = formulaValues(k: base + j, count: view.count, scale: scale)
            values.withUnsafeBufferPointer {
                (model.parameters.baseAddress! + view.offset).update(from: $0.baseAddress!, count: view.count)
            }
        }
    }

    func expectMatches(_ ours: [Float], _ name: String, shape: [Int], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let reference = try #require(file.tensors[name], "fixture has no tensor \(name)", sourceLocation: sourceLocation)
        #expect(reference.shape == shape, "\(name): fixture shape \(reference.shape), ours \(shape)",
                sourceLocation: sourceLocation)
        let scale = maxAbs(reference.values)
        let difference = maxAbsDifference(ours, reference.values)
        reportDifference("\(name) max abs diff (max |value| \(scale))", difference)
        #expect(scale > 0, "\(name) is zero in the fixture", sourceLocation: sourceLocation)
        #expect(difference <= 1e-5 * scale + 1e-7, "\(name): max abs diff \(difference), max |value| \(scale)",
                sourceLocation: sourceLocation)
    }

    @Test func fixtureHoldsEveryTensor() {
        var expected: Set<String> = []
        for cell in RecurrentCell.allCases {
            let name = cell.rawValue
            expected.formUnion(["output", "sequence", "h_n", "grad.input", "grad.h0"].map { "\(name).\($0)" })
            expected.formUnion(cell.makeLayer(inputSize: 2, hiddenSize: 5).parameterSpecs.map { "\(name).grad.\($0.name)" })
            if cell == .lstm { expected.formUnion(["lstm.c_n", "lstm.grad.c0"]) }
            // The regressor's gradients are stored under PyTorch's state_dict names: they must be ours.
            expected.formUnion(["regressor_\(name).prediction", "regressor_\(name).loss"])
            expected.formUnion(Model(Models.sequenceRegressor(cell: cell, inputSize: 1, hiddenSize: 10, outputs: 1))
                .views.map { "regressor_\(name).grad.\($0.name)" })
        }
        #expect(Set(file.tensors.keys) == expected)
        #expect(file.order.count == expected.count)
        #expect(file.metadata["made_by"]?.hasPrefix("scripts/make_fixtures.py with torch ") == true)
    }

    /// Output, sequence, final state(s) and the gradients of sum(last · w) w.r.t. every parameter, the
    /// input and the initial state(s), from a nonzero initial state.
    @Test(arguments: RecurrentCell.allCases)
    func layerForwardAndBackward(cell: RecurrentCell) throws {
        let (b, t, i, h) = (Self.batch, Self.steps, Self.inputs, Self.hidden)
        let base = Self.base(cell), name = cell.rawValue
        let layer = cell.makeLayer(inputSize: i, hiddenSize: h)
        let model = Model(layer)
        Self.setFormulaParameters(model, base: base, scale: 1)
        layer.initialHidden = Tensor(shape: [b, h], values: formulaValues(k: base + 11, count: b * h, scale: 2))
        let lstm = layer as? LSTM
        lstm?.initialCell = Tensor(shape: [b, h], values: formulaValues(k: base + 12, count: b * h, scale: 2))
        let x = Tensor(shape: [b, t, i], values: formulaValues(k: base + 10, count: b * t * i, scale: 4))

        let output = model.forward(x)
        #expect(output.shape == [b, h])
        try expectMatches(output.scalars, "\(name).output", shape: [b, h])
        #expect(layer.outputSequence.shape == [b, t, h])
        try expectMatches(layer.outputSequence.scalars, "\(name).sequence", shape: [b, t, h])
        try expectMatches(layer.finalHidden.scalars, "\(name).h_n", shape: [b, h])
        if let lstm { try expectMatches(lstm.finalCell.scalars, "lstm.c_n", shape: [b, h]) }

        model.zeroGradients()
        let weights = Tensor(shape: [b, h], values: formulaValues(k: base + 13, count: b * h, scale: 2))
        let inputGradient = try #require(layer.backward(weights, needsInputGradient: true))
        for view in model.views {
            try expectMatches(try #require(model.gradientValues(named: view.name)), "\(name).grad.\(view.name)",
                              shape: view.shape)
        }
        #expect(inputGradient.shape == [b, t, i])
        try expectMatches(inputGradient.scalars, "\(name).grad.input", shape: [b, t, i])
        try expectMatches(layer.initialHiddenGradient.scalars, "\(name).grad.h0", shape: [b, h])
        if let lstm { try expectMatches(lstm.initialCellGradient.scalars, "lstm.grad.c0", shape: [b, h]) }
    }

    /// The tutorial's model (zero initial state, last step into fc, MSELoss) through `Model` and
    /// `Criterion`, every gradient looked up by PyTorch's state_dict name.
    @Test(arguments: RecurrentCell.allCases)
    func tutorialRegressor(cell: RecurrentCell) throws {
        let base = Self.base(cell), name = "regressor_\(cell.rawValue)"
        let model = Model(Models.sequenceRegressor(cell: cell, inputSize: 1, hiddenSize: 10, outputs: 1))
        Self.setFormulaParameters(model, base: base + 50, scale: 0.8)
        let x = Tensor(shape: [4, 8, 1], values: formulaValues(k: base + 60, count: 32, scale: 2))
        let targets = Tensor(shape: [4, 1], values: formulaValues(k: base + 61, count: 4, scale: 2))
        let criterion = Criterion(.regression)

        let prediction = model.forward(x)
        try expectMatches(prediction.scalars, "\(name).prediction", shape: [4, 1])
        let loss = criterion.loss(prediction, labels: [], targets: targets)
        try expectMatches([loss], "\(name).loss", shape: [1])
        model.zeroGradients()
        model.backward(criterion.backward())
        for view in model.views {
            try expectMatches(try #require(model.gradientValues(named: view.name)), "\(name).grad.\(view.name)",
                              shape: view.shape)
        }
    }
}
