import Testing
import TestSupport
@testable import Engine

/// Analytic gradients of every layer and loss against central finite differences (Float64 differences
/// of the engine's Float32 forward). Tolerance per element: 1e-4 + 1% of the finite difference. The
/// worst element of any check uses about a tenth of that (set ENGINE_TESTS_VERBOSE=1 to see each),
/// while a wrong factor, sign, transpose or index is off by far more; a 1% error in the sigmoid's
/// derivative already fails.
@Suite("Gradient checks", .blocking)
struct GradientCheckTests {
    /// Values in ±[0.1, 2]: far enough from 0 that a ±0.01 step never crosses ReLU's kink.
    static func awayFromZero(_ count: Int, seed: UInt64) -> [Float] {
        let magnitudes = randomFloats(count, in: 0.1...2, seed: seed)
        let signs = randomFloats(count, in: 0...1, seed: seed &+ 100)
        return zip(magnitudes, signs).map { $1 < 0.5 ? -$0 : $0 }
    }

    @Test func linearWithBias() {
        checkLayerGradients(Linear(5, 4), inputShape: [3, 5], input: randomFloats(15, in: -2...2, seed: 1),
                            "Linear(5, 4)")
    }

    @Test func linearWithoutBias() {
        let layer = Linear(6, 3, bias: false)
        #expect(layer.parameterSpecs == [ParameterSpec("weight", [3, 6])])
        checkLayerGradients(layer, inputShape: [4, 6], input: randomFloats(24, in: -2...2, seed: 2),
                            "Linear(6, 3, bias: false)")
    }

    @Test func linearSingleRow() {
        checkLayerGradients(Linear(3, 7), inputShape: [1, 3], input: randomFloats(3, in: -2...2, seed: 3),
                            "Linear(3, 7) on one row")
    }

    @Test func relu() {
        let input = Self.awayFromZero(24, seed: 4)
        #expect(input.contains { $0 < 0 } && input.contains { $0 > 0 })
        checkLayerGradients(ReLU(), inputShape: [4, 6], input: input, "ReLU")
    }

    @Test func sigmoid() {
        checkLayerGradients(Sigmoid(), inputShape: [3, 5], input: randomFloats(15, in: -4...4, seed: 5), "Sigmoid")
    }

    @Test func tanh() {
        checkLayerGradients(Tanh(), inputShape: [3, 5], input: randomFloats(15, in: -3...3, seed: 6), "Tanh")
    }

    @Test func softmax() {
        checkLayerGradients(Softmax(), inputShape: [3, 6], input: randomFloats(18, in: -3...3, seed: 7), "Softmax")
    }

    @Test func softmaxOnAVector() {
        checkLayerGradients(Softmax(), inputShape: [5], input: randomFloats(5, in: -3...3, seed: 8), "Softmax([5])")
    }

    /// Several layers, every parameter and the input: checks Sequential's chaining and gradient routing.
    @Test func sequentialOfSeveral() throws {
        let stack = Sequential(
            Linear(6, 5), Tanh(), Linear(5, 4), ReLU(), Linear(4, 4), Sigmoid(), Linear(4, 3), Softmax()
        )
        let model = Model(stack, seed: 7)
        let input = randomFloats(18, in: -2...2, seed: 9)
        // The ReLU's inputs must stay clear of 0 under a ±0.01 move of any input or parameter.
        let margin = reluInputMargin(stack, input: Tensor(shape: [3, 6], values: input))
        try #require(margin > 0.05, "a ReLU input is \(margin) from the kink; pick another seed")

        checkGradients(of: model, inputShape: [3, 6], input: input, "Sequential")
    }

    /// The tutorial's MLP shape, end to end through Model.backward and the classification criterion.
    @Test func mlpWithCrossEntropyThroughModel() throws {
        let stack = Models.mlp(inputs: 7, hidden: (6, 5), outputs: 4)
        // Seeds chosen so that every ReLU input is at least 0.05 from 0 (most seeds put one closer).
        let model = Model(stack, seed: 319)
        let x = Tensor(shape: [5, 7], values: randomFloats(35, in: -2...2, seed: 1319))
        let margin = reluInputMargin(stack, input: x)
        try #require(margin > 0.05, "a ReLU input is \(margin) from the kink; pick another seed")
        let labels: [Int32] = [0, 3, 1, 2, 3]
        let criterion = Criterion(.classification)
        _ = criterion.loss(model.forward(x), labels: labels, targets: Tensor())
        model.zeroGradients()
        model.backward(criterion.backward())
        let analytic = model.gradientValues
        let objective = { Double(criterion.loss(model.forward(x), labels: labels, targets: Tensor())) }
        for view in model.views {
            let numeric = centralDifferences(of: model.parameters.baseAddress! + view.offset, count: view.count,
                                             step: 1e-2, objective: objective)
            expectGradient(Array(analytic[view.range]), matches: numeric, "MLP \(view.name)")
        }
    }

    // MARK: Losses

    @Test func mseLoss() {
        let loss = MSELoss()
        let prediction = Tensor(shape: [3, 4], values: randomFloats(12, in: -2...2, seed: 20))
        let target = Tensor(shape: [3, 4], values: randomFloats(12, in: -2...2, seed: 21))
        _ = loss.forward(prediction, target: target)
        let analytic = loss.backward().scalars
        let numeric = centralDifferences(of: prediction.data, count: prediction.count, step: 1e-2) {
            Double(loss.forward(prediction, target: target))
        }
        expectGradient(analytic, matches: numeric, "MSELoss")
    }

    @Test func crossEntropyLoss() {
        let loss = CrossEntropyLoss()
        let logits = Tensor(shape: [4, 5], values: randomFloats(20, in: -3...3, seed: 22))
        let labels: [Int32] = [4, 0, 2, 2]
        _ = loss.forward(logits, labels: labels)
        let analytic = loss.backward().scalars
        let numeric = centralDifferences(of: logits.data, count: logits.count, step: 1e-2) {
            Double(loss.forward(logits, labels: labels))
        }
        expectGradient(analytic, matches: numeric, "CrossEntropyLoss")
    }

    @Test func crossEntropyLossWithLargeLogits() {
        // Shifted by 500: a naive exp would overflow; gradients are those of the unshifted logits.
        let loss = CrossEntropyLoss()
        let logits = Tensor(shape: [2, 4], values: randomFloats(8, in: -3...3, seed: 23).map { $0 + 500 })
        let labels: [Int32] = [1, 3]
        _ = loss.forward(logits, labels: labels)
        let analytic = loss.backward().scalars
        // Near 500 a Float32 step is 3e-5, so use a larger step (the loss is smooth at this scale).
        let numeric = centralDifferences(of: logits.data, count: logits.count, step: 0.05) {
            Double(loss.forward(logits, labels: labels))
        }
        expectGradient(analytic, matches: numeric, relative: 2e-2, absolute: 1e-3, "CrossEntropyLoss near 500")
    }

    @Test func bceLoss() {
        let loss = BCELoss()
        let prediction = Tensor(shape: [3, 4], values: randomFloats(12, in: 0.05...0.95, seed: 24))
        var targets = randomFloats(12, in: 0...1, seed: 25)
        targets[0] = 0; targets[1] = 1  // hard labels as well as soft ones
        let target = Tensor(shape: [3, 4], values: targets)
        _ = loss.forward(prediction, target: target)
        let analytic = loss.backward().scalars
        let numeric = centralDifferences(of: prediction.data, count: prediction.count, step: 1e-3) {
            Double(loss.forward(prediction, target: target))
        }
        expectGradient(analytic, matches: numeric, "BCELoss")
    }

    @Test func bceWithLogitsLoss() {
        let loss = BCEWithLogitsLoss()
        var values = randomFloats(12, in: -4...4, seed: 26)
        values[0] = 20; values[1] = -20  // saturated, where the stable form matters
        let logits = Tensor(shape: [12], values: values)
        let target = Tensor(shape: [12], values: randomFloats(12, in: 0...1, seed: 27))
        _ = loss.forward(logits, target: target)
        let analytic = loss.backward().scalars
        let numeric = centralDifferences(of: logits.data, count: logits.count, step: 1e-2) {
            Double(loss.forward(logits, target: target))
        }
        expectGradient(analytic, matches: numeric, "BCEWithLogitsLoss")
    }

    @Test func criterionRoutesEachObjective() {
        // Binary classification and regression through Criterion, as the training loop calls them.
        for objective in [Objective.binaryClassification, .regression] {
            let criterion = Criterion(objective)
            let output = Tensor(shape: [6, 1], values: randomFloats(6, in: -3...3, seed: 28))
            let target = Tensor(shape: [6, 1], values: objective == .regression
                                ? randomFloats(6, in: -3...3, seed: 29) : [0, 1, 1, 0, 1, 0])
            _ = criterion.loss(output, labels: [], targets: target)
            let analytic = criterion.backward().scalars
            let numeric = centralDifferences(of: output.data, count: output.count, step: 1e-2) {
                Double(criterion.loss(output, labels: [], targets: target))
            }
            expectGradient(analytic, matches: numeric, "Criterion(.\(objective))")
        }
    }
}
