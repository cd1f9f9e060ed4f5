import Foundation

/// Adam with bias correction and optional L2 weight decay, exactly PyTorch's `optim.Adam` rule:
/// g ← g + λp; m ← m + (1 − β₁)(g − m); v ← β₂v + (1 − β₂)g²;
/// p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
public final class Adam: Optimizer {
    public var learningRate: Float
    /// The decay rate β₁ of the first moment.
    public let beta1: Float
    /// The decay rate β₂ of the second moment.
    public let beta2: Float
    /// The term ε added after the square root.
    public let epsilon: Float
    /// The L2 penalty λ added to the gradient.
    public let weightDecay: Float
    public private(set) var stepCount = 0
    /// The first-moment estimate, one entry per parameter.
    public private(set) var firstMoment: [Float]
    /// The second-moment estimate, one entry per parameter.
    public private(set) var secondMoment: [Float]

    /// Creates the optimiser for `parameterCount` parameters, with PyTorch's defaults.
    public init(parameterCount: Int, learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0) {
        precondition(learningRate >= 0, "learning rate must not be negative")
        precondition((0..<1).contains(beta1) && (0..<1).contains(beta2), "betas must lie in [0, 1)")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        firstMoment = [Float](repeating: 0, count: parameterCount)
        secondMoment = [Float](repeating: 0, count: parameterCount)
    }

    public var stateBuffers: [(name: String, values: [Float])] {
        [("exp_avg", firstMoment), ("exp_avg_sq", secondMoment)]
    }

    public func restore(stepCount: Int, buffers: [String: [Float]]) throws {
        guard stepCount >= 0 else { throw OptimizerStateError("a negative step count (\(stepCount))") }
        firstMoment = try stateBuffer("exp_avg", in: buffers, count: firstMoment.count)
        secondMoment = try stateBuffer("exp_avg_sq", in: buffers, count: secondMoment.count)
        self.stepCount = stepCount
    }

    public func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>) {
        precondition(parameters.count == gradients.count, "parameter and gradient counts differ")
        precondition(firstMoment.count == parameters.count, "Adam was created for \(firstMoment.count) parameters, got \(parameters.count)")
        stepCount += 1
        // PyTorch forms the bias corrections in double precision from Python floats.
        let t = Double(stepCount)
        let stepSize = Float(Double(learningRate) / (1 - pow(Double(beta1), t)))
        let correction2Root = Float(sqrt(1 - pow(Double(beta2), t)))
        let p = parameters.baseAddress!, g = gradients.baseAddress!, count = parameters.count
        let oneMinusBeta1 = Float(1 - Double(beta1)), oneMinusBeta2 = Float(1 - Double(beta2))
        let b2 = beta2, eps = epsilon, decay = weightDecay
        firstMoment.withUnsafeMutableBufferPointer { mBuffer in
            secondMoment.withUnsafeMutableBufferPointer { vBuffer in
                let m = mBuffer.baseAddress!, v = vBuffer.baseAddress!
                ComputePool.shared.forEachRange(count) { range in
                    // A constant flag per call keeps each inlined loop branch-free.
                    if decay == 0 {
                        Adam.update(range, p, g, m, v, oneMinusBeta1, b2, oneMinusBeta2, correction2Root, eps, stepSize, 0, decayed: false)
                    } else {
                        Adam.update(range, p, g, m, v, oneMinusBeta1, b2, oneMinusBeta2, correction2Root, eps, stepSize, decay, decayed: true)
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func update(_ range: Range<Int>, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                               _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ oneMinusBeta1: Float,
                               _ beta2: Float, _ oneMinusBeta2: Float, _ correction2Root: Float, _ eps: Float,
                               _ stepSize: Float, _ decay: Float, decayed: Bool) {
        for i in range {
            let gradient = decayed ? g[i] + decay * p[i] : g[i]
            let first = m[i] + oneMinusBeta1 * (gradient - m[i])
            let second = v[i] * beta2 + oneMinusBeta2 * gradient * gradient
            m[i] = first
            v[i] = second
            p[i] -= stepSize * (first / (second.squareRoot() / correction2Root + eps))
        }
    }
}
