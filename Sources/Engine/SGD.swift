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
        step(from: UnsafeBufferPointer(parameters), into: parameters, gradients: gradients)
    }

    public var stateBuffers: [(name: String, values: [Float])] {
        momentum != 0 ? [("momentum_buffer", velocity)] : []
    }

    public func restore(stepCount: Int, buffers: [String: [Float]]) throws {
        guard stepCount >= 0 else { throw OptimizerStateError("a negative step count (\(stepCount))") }
        if momentum != 0 { velocity = try stateBuffer("momentum_buffer", in: buffers, count: velocity.count) }
        self.stepCount = stepCount
    }

    /// One update read from `current` and written to `next` (the same buffer for an in-place step),
    /// so a parameter server can write new weights into a fresh buffer without a separate copy.
    public func step(from current: UnsafeBufferPointer<Float>, into next: UnsafeMutableBufferPointer<Float>,
                     gradients: UnsafeBufferPointer<Float>) {
        precondition(current.count == gradients.count && next.count == gradients.count, "parameter and gradient counts differ")
        let source = current.baseAddress!, p = next.baseAddress!, g = gradients.baseAddress!
        // In place, the loops read and write one buffer: a separate variant keeps them vectorised
        // (LLVM's overlap check would send an aliased from/into loop down its scalar path).
        let inPlace = UnsafePointer(p) == source
        let count = next.count, lr = learningRate, decay = weightDecay, mu = momentum
        let decayed = decay != 0, nesterov = self.nesterov
        // The first step sets v = g: v ← 0·v + 1·g is exactly that, since v starts at zero.
        let carry = stepCount == 0 ? 0 : mu, keep = stepCount == 0 ? 1 : 1 - dampening
        stepCount += 1
        guard mu != 0 else {
            ComputePool.shared.forEachRange(count) { range in
                switch (decayed, inPlace) {
                case (true, true): for i in range { p[i] -= lr * (g[i] + decay * p[i]) }
                case (true, false): for i in range { p[i] = source[i] - lr * (g[i] + decay * source[i]) }
                case (false, true): for i in range { p[i] -= lr * g[i] }
                case (false, false): for i in range { p[i] = source[i] - lr * g[i] }
                }
            }
            return
        }
        precondition(velocity.count == count, "SGD was created for \(velocity.count) parameters, got \(count)")
        velocity.withUnsafeMutableBufferPointer { buffer in
            let v = buffer.baseAddress!
            ComputePool.shared.forEachRange(count) { range in
                // Constant flags per call, so each inlined loop is branch-free and vectorises.
                switch (decayed, nesterov, inPlace) {
                case (false, false, true): SGD.momentumLoop(range, source, p, g, v, lr, carry, keep, mu, decay, false, false, true)
                case (false, true, true): SGD.momentumLoop(range, source, p, g, v, lr, carry, keep, mu, decay, false, true, true)
                case (true, false, true): SGD.momentumLoop(range, source, p, g, v, lr, carry, keep, mu, decay, true, false, true)
                case (true, true, true): SGD.momentumLoop(range, source, p, g, v, lr, carry, keep, mu, decay, true, true, true)
                case (false, false, false): SGD.momentumLoop(range, source, p, g, v, lr, carry, keep, mu, decay, false, false, false)
                case (false, true, false): SGD.momentumLoop(range, source, p, g, v, lr, carry, keep, mu, decay, false, true, false)
                case (true, false, false): SGD.momentumLoop(range, source, p, g, v, lr, carry, keep, mu, decay, true, false, false)
                case (true, true, false): SGD.momentumLoop(range, source, p, g, v, lr, carry, keep, mu, decay, true, true, false)
                }
            }
        }
    }

    /// g ← g + λp; v ← carry·v + keep·g; p′ ← p − lr·(g + μv if Nesterov else v), over one range.
    @inline(__always)
    private static func momentumLoop(_ range: Range<Int>, _ source: UnsafePointer<Float>, _ p: UnsafeMutablePointer<Float>,
                                     _ g: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ lr: Float, _ carry: Float,
                                     _ keep: Float, _ mu: Float, _ decay: Float, _ decayed: Bool, _ nesterov: Bool,
                                     _ inPlace: Bool) {
        for i in range {
            let parameter = inPlace ? p[i] : source[i]
            let gradient = decayed ? g[i] + decay * parameter : g[i]
            let velocity = carry * v[i] + keep * gradient
            v[i] = velocity
            p[i] = parameter - lr * (nesterov ? gradient + mu * velocity : velocity)
        }
    }
}
