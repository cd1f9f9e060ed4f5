import Foundation
import Testing
import TestSupport
@testable import Engine

/// The recurrent layers' contract beyond their numbers: names, shapes, initialisation, state handling,
/// buffer reuse, gradient accumulation, the compute-pool split, and the gate functions' accuracy.
@Suite("Recurrent layers", .blocking)
struct RecurrentLayerTests {
    @Test(arguments: RecurrentCell.allCases)
    func parametersHavePyTorchNamesShapesAndOrder(cell: RecurrentCell) {
        let g = cell.gateCount
        #expect(g == ["rnn": 1, "lstm": 4, "gru": 3][cell.rawValue])
        let layer = cell.makeLayer(inputSize: 3, hiddenSize: 7)
        #expect(layer.cell == cell && layer.inputSize == 3 && layer.hiddenSize == 7)
        #expect(layer.parameterSpecs == [
            ParameterSpec("weight_ih_l0", [g * 7, 3]), ParameterSpec("weight_hh_l0", [g * 7, 7]),
            ParameterSpec("bias_ih_l0", [g * 7]), ParameterSpec("bias_hh_l0", [g * 7]),
        ])
        let types: [RecurrentCell: RecurrentLayer.Type] = [.rnn: RNN.self, .lstm: LSTM.self, .gru: GRU.self]
        #expect(ObjectIdentifier(type(of: layer)) == ObjectIdentifier(types[cell]!))
    }

    @Test(arguments: RecurrentCell.allCases)
    func tutorialRegressorNames(cell: RecurrentCell) {
        let model = Model(Models.sequenceRegressor(cell: cell))
        let name = cell.rawValue, rows = cell.gateCount * 32
        #expect(model.views.map(\.name) == ["\(name).weight_ih_l0", "\(name).weight_hh_l0", "\(name).bias_ih_l0",
                                            "\(name).bias_hh_l0", "fc.weight", "fc.bias"])
        #expect(model.views.map(\.shape) == [[rows, 1], [rows, 32], [rows], [rows], [1, 32], [1]])
        #expect(model.parameterCount == rows * (1 + 32 + 2) + 33)
        #expect(model.forward(Tensor(zeros: [5, 20, 1])).shape == [5, 1])
    }

    /// Every parameter uniform in ±1/√H (PyTorch's `reset_parameters`), spread over that range.
    @Test(arguments: RecurrentCell.allCases)
    func defaultInitialisationIsUniformInOneOverRootH(cell: RecurrentCell) {
        let model = Model(cell.makeLayer(inputSize: 3, hiddenSize: 16), seed: 5)
        let bound: Float = 0.25
        for view in model.views {
            let values = model.parameterValues(named: view.name)!
            #expect(values.allSatisfy { abs($0) <= bound }, "\(cell) \(view.name) outside ±\(bound)")
            #expect(values.max()! > 0.8 * bound && values.min()! < -0.8 * bound, "\(cell) \(view.name) not spread")
        }
        #expect(Model(cell.makeLayer(inputSize: 3, hiddenSize: 16), seed: 5).parameterValues == model.parameterValues)
        #expect(Model(cell.makeLayer(inputSize: 3, hiddenSize: 16), seed: 6).parameterValues != model.parameterValues)
    }

    /// forward returns the last step of `outputSequence`, which is `finalHidden`; nil initial state
    /// equals explicit zeros; evaluation mode gives the training output.
    @Test(arguments: RecurrentCell.allCases)
    func outputsAndInitialState(cell: RecurrentCell) {
        let layer = cell.makeLayer(inputSize: 2, hiddenSize: 3)
        #expect(layer.outputSequence.count == 0 && layer.finalHidden.count == 0)
        let model = Model(layer, seed: 9)
        let x = Tensor(shape: [4, 5, 2], values: randomFloats(40, in: -1...1, seed: 10))
        let output = model.forward(x, mode: .training)
        #expect(output === layer.finalHidden)
        #expect(output.shape == [4, 3] && layer.outputSequence.shape == [4, 5, 3])
        let sequence = layer.outputSequence.scalars
        var lastSteps: [Float] = []
        for b in 0..<4 {
            let start = (b * 5 + 4) * 3
            lastSteps += sequence[start..<start + 3]
        }
        #expect(output.scalars == lastSteps)
        let fromNil = output.scalars, cellFromNil = (layer as? LSTM)?.finalCell.scalars

        layer.initialHidden = Tensor(zeros: [4, 3])
        (layer as? LSTM)?.initialCell = Tensor(zeros: [4, 3])
        #expect(model.forward(x, mode: .training).scalars == fromNil)
        #expect(model.forward(x, mode: .evaluation).scalars == fromNil)
        #expect((layer as? LSTM)?.finalCell.scalars == cellFromNil)

        // A nonzero state changes the output; the first step depends on it.
        layer.initialHidden = Tensor(shape: [4, 3], values: randomFloats(12, in: -1...1, seed: 11))
        #expect(model.forward(x).scalars != fromNil)
    }

    /// The LSTM's c_T is the cell state: h_T = o ∘ tanh(c_T) with o in (0, 1), so |h_T| < |tanh(c_T)|.
    @Test func lstmFinalCellIsTheCellState() {
        let layer = LSTM(inputSize: 2, hiddenSize: 3)
        let model = Model(layer, seed: 12)
        let output = model.forward(Tensor(shape: [2, 4, 2], values: randomFloats(16, in: -2...2, seed: 13))).scalars
        let cell = layer.finalCell.scalars
        #expect(layer.finalCell.shape == [2, 3])
        for (h, c) in zip(output, cell) { #expect(abs(h) < abs(tanh(c)) && h * c >= 0) }
    }

    /// Rows are independent: a batch of many rows, split over the compute pool (when it has several
    /// threads), equals each row alone, forward and backward (the parameter gradients are sums over rows).
    @Test(arguments: RecurrentCell.allCases)
    func rowsAreIndependentAcrossPoolParts(cell: RecurrentCell) throws {
        let (batch, steps, inputs, hidden) = (37, 4, 3, 11)
        #expect(batch / RecurrentLayer.rowsPerPart >= 2)
        let layer = cell.makeLayer(inputSize: inputs, hiddenSize: hidden)
        let model = Model(layer, seed: 14)
        let xValues = randomFloats(batch * steps * inputs, in: -1...1, seed: 15)
        let h0Values = randomFloats(batch * hidden, in: -1...1, seed: 16)
        let upstreamValues = randomFloats(batch * hidden, in: -1...1, seed: 17)
        layer.initialHidden = Tensor(shape: [batch, hidden], values: h0Values)
        (layer as? LSTM)?.initialCell = Tensor(shape: [batch, hidden], values: h0Values.map { -2 * $0 })
        let all = model.forward(Tensor(shape: [batch, steps, inputs], values: xValues)).scalars
        model.zeroGradients()
        let allInputGradient = try #require(layer.backward(Tensor(shape: [batch, hidden], values: upstreamValues),
                                                           needsInputGradient: true)).scalars
        let allGradients = model.gradientValues
        let allH0Gradient = layer.initialHiddenGradient.scalars
        let allC0Gradient = (layer as? LSTM)?.initialCellGradient.scalars

        var summed = [Float](repeating: 0, count: model.parameterCount)
        for b in 0..<batch {
            let rowX = Array(xValues[b * steps * inputs..<(b + 1) * steps * inputs])
            let rowH0 = Array(h0Values[b * hidden..<(b + 1) * hidden])
            layer.initialHidden = Tensor(shape: [1, hidden], values: rowH0)
            (layer as? LSTM)?.initialCell = Tensor(shape: [1, hidden], values: rowH0.map { -2 * $0 })
            let row = model.forward(Tensor(shape: [1, steps, inputs], values: rowX)).scalars
            expectElementsClose(row, Array(all[b * hidden..<(b + 1) * hidden]), relative: 1e-5, absolute: 1e-6,
                                "\(cell) row \(b) output")
            model.zeroGradients()
            let upstream = Tensor(shape: [1, hidden], values: Array(upstreamValues[b * hidden..<(b + 1) * hidden]))
            let rowInputGradient = try #require(layer.backward(upstream, needsInputGradient: true)).scalars
            expectElementsClose(rowInputGradient, Array(allInputGradient[b * steps * inputs..<(b + 1) * steps * inputs]),
                                relative: 1e-5, absolute: 1e-6, "\(cell) row \(b) input gradient")
            expectElementsClose(layer.initialHiddenGradient.scalars, Array(allH0Gradient[b * hidden..<(b + 1) * hidden]),
                                relative: 1e-5, absolute: 1e-6, "\(cell) row \(b) h0 gradient")
            if let lstm = layer as? LSTM, let allC0Gradient {
                expectElementsClose(lstm.initialCellGradient.scalars, Array(allC0Gradient[b * hidden..<(b + 1) * hidden]),
                                    relative: 1e-5, absolute: 1e-6, "\(cell) row \(b) c0 gradient")
            }
            for (i, g) in model.gradientValues.enumerated() { summed[i] += g }
        }
        expectElementsClose(summed, allGradients, relative: 1e-4, absolute: 1e-5, "\(cell) summed parameter gradients")
    }

    /// Backward adds into the gradients (PyTorch's accumulation), and the buffers survive a change of
    /// batch size and sequence length in both directions.
    @Test(arguments: RecurrentCell.allCases)
    func gradientsAccumulateAndBuffersAreReused(cell: RecurrentCell) {
        func run(_ model: Model, _ layer: RecurrentLayer, batch: Int, steps: Int, seed: UInt64) -> ([Float], [Float]) {
            let x = Tensor(shape: [batch, steps, 2], values: randomFloats(batch * steps * 2, in: -1...1, seed: seed))
            let output = model.forward(x).scalars
            model.zeroGradients()
            _ = layer.backward(Tensor(shape: [batch, 3], values: randomFloats(batch * 3, in: -1...1, seed: seed + 1)),
                               needsInputGradient: true)
            return (output, model.gradientValues)
        }
        let fresh = cell.makeLayer(inputSize: 2, hiddenSize: 3)
        let freshModel = Model(fresh, seed: 18)
        let expected = run(freshModel, fresh, batch: 2, steps: 3, seed: 19)

        let reused = cell.makeLayer(inputSize: 2, hiddenSize: 3)
        let reusedModel = Model(reused, seed: 18)
        _ = run(reusedModel, reused, batch: 50, steps: 7, seed: 20)   // larger first
        #expect(run(reusedModel, reused, batch: 2, steps: 3, seed: 19) == expected)
        _ = run(reusedModel, reused, batch: 1, steps: 9, seed: 21)    // longer, smaller batch
        #expect(run(reusedModel, reused, batch: 2, steps: 3, seed: 19) == expected)

        // A second backward without zeroing doubles every gradient.
        _ = reused.backward(Tensor(shape: [2, 3], values: randomFloats(6, in: -1...1, seed: 20)), needsInputGradient: false)
        expectElementsClose(reusedModel.gradientValues, expected.1.map { 2 * $0 }, relative: 1e-6, absolute: 0,
                            "\(cell) accumulated gradients")
    }

    // MARK: Gate functions

    /// exp, sigmoid and tanh over their working range against Float64, in ulps of the true value.
    @Test func gateFunctionsAreAccurate() {
        typealias Lanes = GateMath.Lanes
        func ulps(_ value: Float, _ exact: Double) -> Double {
            abs(Double(value) - exact) / Double(Float(exact).ulp)
        }
        var arguments: [Float] = []
        var x: Float = -87
        while x <= 88 {
            arguments.append(x)
            x += abs(x) < 2 ? 0.000_37 : 0.003_7
        }
        // Tiny arguments, where tanh x ≈ x must keep its relative accuracy, and the switch at 0.4.
        arguments += [0, 1e-30, -3e-12, 1e-7, -2.5e-4, 0.01, 0.399_999, 0.4, -0.400_001]
        while arguments.count % 8 != 0 { arguments.append(1) }
        var worst = (exp: 0.0, sigmoid: 0.0, tanh: 0.0)
        for start in stride(from: 0, to: arguments.count, by: 8) {
            let lanes = Lanes(arguments[start..<start + 8])
            let (e, s, t) = (GateMath.exp(lanes), GateMath.sigmoid(lanes), GateMath.tanh(lanes))
            for k in 0..<8 {
                let x = Double(lanes[k])
                worst.exp = max(worst.exp, ulps(e[k], Foundation.exp(x)))
                if x >= -80 { worst.sigmoid = max(worst.sigmoid, ulps(s[k], 1 / (1 + Foundation.exp(-x)))) }  // normal floats
                if abs(x) <= 10 { worst.tanh = max(worst.tanh, ulps(t[k], Foundation.tanh(x))) }  // beyond: ±1 both
            }
        }
        reportDifference("GateMath.exp worst ulps", Float(worst.exp))
        reportDifference("GateMath.sigmoid worst ulps", Float(worst.sigmoid))
        reportDifference("GateMath.tanh worst ulps", Float(worst.tanh))
        // Measured: exp 0.9, sigmoid 2.2, tanh 4.5 ulp (the rational tanh's worst case, 2.7e-7 relative).
        #expect(worst.exp <= 2)
        #expect(worst.sigmoid <= 3)
        #expect(worst.tanh <= 5)
        let extremes = Lanes(0, 30, -1e6, 100, -1000, 1000, -0.0, .infinity)
        let t = GateMath.tanh(extremes), s = GateMath.sigmoid(extremes), e = GateMath.exp(extremes)
        #expect(t[0] == 0 && t[1] == 1 && t[2] == -1 && t[7] == 1)
        #expect(t[6] == 0 && t[6].sign == .minus)
        #expect(s[0] == 0.5 && s[3] == 1 && s[4] < 1e-37 && s[4] >= 0 && s[7] == 1)
        #expect(e[4] > 0 && e[5].isFinite)
    }
}
