/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight
/// decay, exactly PyTorch's `optim.SGD` rule:
/// g ← g + λp; v ← μv + (1 − τ)g (v ← g on the first step); g ← g + μv if Nesterov else v; p ← p − lr·g.
public final class SGD: Optimizer {
    public var learningRate: Float
    /// The momentum factor μ.
    public let momentum: Float
    /// The dampening τ applied to new gradients in the momentum buffer.
    public let dampening: Float
    /// The L2 penalty λ added to the gradient.
    public let weightDecay: Float
    /// Whether to use Nesterov momentum.
    public let nesterov: Bool
    public private(set) var stepCount = 0
    /// The momentum buffer, one entry per parameter (empty without momentum).
    public private(set) var velocity: [Float]

    /// Creates the optimiser for `parameterCount` parameters.
    public init(parameterCount: Int, learningRate: Float, momentum: Float = 0, dampening: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false) {
        precondition(learningRate >= 0, "learning rate must not be negative")
        precondition(!nesterov || (momentum > 0 && dampening == 0), "Nesterov momentum requires a momentum and zero dampening")
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.velocity = momentum != 0 ? [Float](repeating: 0, count: parameterCount) : []
    }

    public func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>) {
        precondition(parameters.count == gradients.count, "parameter and gradient counts differ")
        let p = parameters.baseAddress!, g = gradients.baseAddress!
        let count = parameters.count, lr = learningRate, decay = weightDecay
        let mu = momentum, keep = 1 - dampening, first = stepCount == 0
        stepCount += 1
        guard mu != 0 else {
            ComputePool.shared.forEachRange(count) { range in
                for i in range { p[i] -= lr * (g[i] + decay * p[i]) }
            }
            return
        }
        precondition(velocity.count == count, "SGD was created for \(velocity.count) parameters, got \(count)")
        velocity.withUnsafeMutableBufferPointer { buffer in
            let v = buffer.baseAddress!, nesterov = self.nesterov
            ComputePool.shared.forEachRange(count) { range in
                for i in range {
                    let gradient = decay == 0 ? g[i] : g[i] + decay * p[i]
                    let momentumValue = first ? gradient : mu * v[i] + keep * gradient
                    v[i] = momentumValue
                    p[i] -= lr * (nesterov ? gradient + mu * momentumValue : momentumValue)
                }
            }
        }
    }
}
