import Testing
import TestSupport
@testable import Engine

/// RNN, LSTM and GRU gradients against central finite differences (Float64 differences of the engine's
/// Float32 forward, the same tolerance as GradientCheckTests: 1e-4 + 1% per element): every parameter,
/// the input and the initial state(s), through full backpropagation through time.
@Suite("Recurrent gradient checks", .blocking)
struct RecurrentGradientCheckTests {
    /// Checks the parameters and input (through `checkGradients`) and then h₀ (and c₀) of a layer whose
    /// initial state is set to random values, on a [batch, steps, 2] input.
    func check(_ cell: RecurrentCell, batch: Int = 3, steps: Int = 5, hidden: Int = 4, seed: UInt64,
               parameterScale: Float = 1, sourceLocation: SourceLocation = #_sourceLocation) {
        let inputs = 2
        let layer = cell.makeLayer(inputSize: inputs, hiddenSize: hidden)
        let model = Model(layer, seed: seed)
        if parameterScale != 1 {
            for i in 0..<model.parameterCount { model.parameters[i] *= parameterScale }
        }
        let h0 = Tensor(shape: [batch, hidden], values: randomFloats(batch * hidden, in: -1...1, seed: seed &+ 10))
        layer.initialHidden = h0
        let c0 = Tensor(shape: [batch, hidden], values: randomFloats(batch * hidden, in: -2...2, seed: seed &+ 11))
        let lstm = layer as? LSTM
        lstm?.initialCell = c0
        let input = randomFloats(batch * steps * inputs, in: -2...2, seed: seed &+ 12)
        let what = "\(cell) [\(batch), \(steps), \(inputs)] H \(hidden)"

        checkGradients(of: model, inputShape: [batch, steps, inputs], input: input, weightSeed: seed &+ 13, what,
                       sourceLocation: sourceLocation)

        let x = Tensor(shape: [batch, steps, inputs], values: input)
        let weights = randomFloats(batch * hidden, in: -1...1, seed: seed &+ 14)
        _ = model.forward(x, mode: .training)
        model.zeroGradients()
        #expect(layer.backward(Tensor(shape: [batch, hidden], values: weights), needsInputGradient: false) == nil,
                sourceLocation: sourceLocation)
        let hiddenGradient = layer.initialHiddenGradient.scalars
        let cellGradient = lstm?.initialCellGradient.scalars
        let objective = { weightedSum(model.forward(x, mode: .training), weights) }
        expectGradient(hiddenGradient, matches: centralDifferences(of: h0.data, count: h0.count, step: 1e-2, objective: objective),
                       "\(what) initial hidden gradient", sourceLocation: sourceLocation)
        if let cellGradient {
            expectGradient(cellGradient, matches: centralDifferences(of: c0.data, count: c0.count, step: 1e-2, objective: objective),
                           "\(what) initial cell gradient", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: RecurrentCell.allCases)
    func defaultInitialisation(cell: RecurrentCell) {
        check(cell, seed: 31)
    }

    /// Weights three times PyTorch's bound: gates closer to saturation, larger second derivatives.
    @Test(arguments: RecurrentCell.allCases)
    func largeWeights(cell: RecurrentCell) {
        check(cell, seed: 32, parameterScale: 3)
    }

    /// A single time step; and a hidden size of 10, so the gate kernels run a full 8-lane block and a
    /// 2-lane tail (H = 4 above runs only tails).
    @Test(arguments: RecurrentCell.allCases)
    func singleStepAndWideHidden(cell: RecurrentCell) {
        check(cell, batch: 2, steps: 1, seed: 33)
        check(cell, batch: 2, steps: 3, hidden: 10, seed: 34)
    }

    /// The tutorial's model from a zero initial state, through `Model.backward` and the MSE criterion.
    @Test(arguments: RecurrentCell.allCases)
    func sequenceRegressorWithMSE(cell: RecurrentCell) {
        let model = Model(Models.sequenceRegressor(cell: cell, inputSize: 1, hiddenSize: 5, outputs: 2), seed: 35)
        let x = Tensor(shape: [4, 6, 1], values: randomFloats(24, in: -1...1, seed: 36))
        let targets = Tensor(shape: [4, 2], values: randomFloats(8, in: -1...1, seed: 37))
        let criterion = Criterion(.regression)
        _ = criterion.loss(model.forward(x), labels: [], targets: targets)
        model.zeroGradients()
        model.backward(criterion.backward())
        let analytic = model.gradientValues
        let objective = { Double(criterion.loss(model.forward(x), labels: [], targets: targets)) }
        for view in model.views {
            let numeric = centralDifferences(of: model.parameters.baseAddress! + view.offset, count: view.count,
                                             step: 1e-2, objective: objective)
            expectGradient(Array(analytic[view.range]), matches: numeric, absolute: 1e-5, "\(cell) regressor \(view.name)")
        }
    }
}
