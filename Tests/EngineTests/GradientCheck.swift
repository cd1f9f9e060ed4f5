import Testing
@testable import Engine

/// Central finite differences of a scalar objective, in Float64.
///
/// The objective evaluates the engine's own Float32 forward pass (so the check proves that backward is
/// the derivative of the forward we actually run) and sums in Double. Each element is moved by ±step;
/// the divisor is the perturbation actually stored in Float32, not 2·step.
func centralDifferences(of pointer: UnsafeMutablePointer<Float>, count: Int, step: Float,
                        objective: () -> Double) -> [Double] {
    (0..<count).map { i in
        let original = pointer[i]
        let plus = original + step, minus = original - step
        pointer[i] = plus
        let high = objective()
        pointer[i] = minus
        let low = objective()
        pointer[i] = original
        return (high - low) / (Double(plus) - Double(minus))
    }
}

/// Σ output · weights in Float64: the scalar a layer's gradient check differentiates.
func weightedSum(_ output: Tensor, _ weights: [Float]) -> Double {
    precondition(output.count == weights.count, "output has \(output.count) elements, weights \(weights.count)")
    var total: Double = 0
    for i in 0..<output.count { total += Double(output[i]) * Double(weights[i]) }
    return total
}

/// Expects every analytic gradient element within `absolute + relative·|numeric|` of the finite difference.
///
/// Also expects the gradient not to vanish, so a check cannot pass by comparing zeros with zeros.
func expectGradient(_ analytic: [Float], matches numeric: [Double], relative: Double = 1e-2, absolute: Double = 1e-4,
                    _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(analytic.count == numeric.count, "\(what): \(analytic.count) analytic and \(numeric.count) numeric values",
            sourceLocation: sourceLocation)
    var worst = (index: -1, excess: 0.0)
    for (index, (a, n)) in zip(analytic, numeric).enumerated() {
        let excess = abs(Double(a) - n) / (absolute + relative * abs(n))
        if excess > worst.excess { worst = (index, excess) }
    }
    reportDifference("\(what): worst error as a fraction of the tolerance", Float(worst.excess))
    if worst.index >= 0 {
        #expect(worst.excess <= 1,
                "\(what)[\(worst.index)]: analytic \(analytic[worst.index]) vs finite difference \(numeric[worst.index])",
                sourceLocation: sourceLocation)
    }
    let largest = numeric.reduce(0) { max($0, abs($1)) }
    #expect(largest > 10 * absolute, "\(what): gradient is (nearly) zero, the check would prove nothing",
            sourceLocation: sourceLocation)
}

/// Checks a layer's input gradient and every parameter gradient against finite differences of
/// Σ layer(x) · w, with the layer's parameters set from `seed` by its default initialisation.
func checkLayerGradients(_ layer: any Layer, inputShape: [Int], input: [Float], step: Float = 1e-2,
                         relative: Double = 1e-2, absolute: Double = 1e-4, seed: UInt64 = 7,
                         _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    checkGradients(of: Model(layer, seed: seed), inputShape: inputShape, input: input, step: step, relative: relative,
                   absolute: absolute, weightSeed: seed &+ 1, what, sourceLocation: sourceLocation)
}

/// The same check for a model's root layer with the parameters the model holds.
func checkGradients(of model: Model, inputShape: [Int], input: [Float], step: Float = 1e-2,
                    relative: Double = 1e-2, absolute: Double = 1e-4, weightSeed: UInt64 = 8,
                    _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let layer = model.root
    let x = Tensor(shape: inputShape, values: input)
    let output = model.forward(x, mode: .training)
    let weights = randomFloats(output.count, in: -1...1, seed: weightSeed)
    let upstream = Tensor(shape: output.shape, values: weights)
    model.zeroGradients()
    guard let inputGradient = layer.backward(upstream, needsInputGradient: true)?.scalars else {
        Issue.record("\(what): backward returned no input gradient", sourceLocation: sourceLocation)
        return
    }
    let parameterGradients = model.gradientValues

    let objective = { weightedSum(model.forward(x, mode: .training), weights) }
    let numericInput = centralDifferences(of: x.data, count: x.count, step: step, objective: objective)
    expectGradient(inputGradient, matches: numericInput, relative: relative, absolute: absolute,
                   "\(what) input gradient", sourceLocation: sourceLocation)
    for view in model.views {
        let numeric = centralDifferences(of: model.parameters.baseAddress! + view.offset, count: view.count,
                                         step: step, objective: objective)
        expectGradient(Array(parameterGradients[view.range]), matches: numeric, relative: relative,
                       absolute: absolute, "\(what) \(view.name) gradient", sourceLocation: sourceLocation)
    }
}

/// The smallest |x| any ReLU in `stack` receives for this input: a finite difference whose step moves
/// a ReLU input across 0 measures the kink, not the derivative, so checks require a margin.
func reluInputMargin(_ stack: Sequential, input: Tensor) -> Float {
    var x = input, margin = Float.infinity
    for entry in stack.layers {
        if entry.layer is ReLU { margin = min(margin, x.scalars.map(abs).min() ?? .infinity) }
        x = entry.layer.forward(x, mode: .evaluation)
    }
    return margin
}
