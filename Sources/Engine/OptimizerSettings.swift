/// The optimisers the engine offers.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    /// Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay (`SGD`).
    case sgd
    /// Adam with bias correction and weight decay (`Adam`).
    case adam
}

/// Every hyper-parameter of every optimiser as one value: what a command line sets, a parameter
/// server sends its workers and a state file keeps, and the one place an optimiser is built from.
///
/// Fields an optimiser does not use keep their defaults (SGD ignores the betas and epsilon, Adam
/// the momentum, dampening and Nesterov).
public struct OptimizerSettings: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Which optimiser.
    public var kind: OptimizerKind
    /// The step size.
    public var learningRate: Float
    /// SGD: the momentum factor (0: none).
    public var momentum: Float
    /// SGD: the dampening of the momentum.
    public var dampening: Float
    /// SGD: Nesterov momentum.
    public var nesterov: Bool
    /// L2 penalty added to the gradient (both optimisers, as PyTorch adds it).
    public var weightDecay: Float
    /// Adam: the decay of the first moment.
    public var beta1: Float
    /// Adam: the decay of the second moment.
    public var beta2: Float
    /// Adam: the term added to the denominator after the square root.
    public var epsilon: Float

    /// Settings with every field given; the defaults are PyTorch's.
    public init(kind: OptimizerKind, learningRate: Float, momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false,
                weightDecay: Float = 0, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.kind = kind
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// SGD settings.
    public static func sgd(learningRate: Float, momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false,
                           weightDecay: Float = 0) -> OptimizerSettings {
        OptimizerSettings(kind: .sgd, learningRate: learningRate, momentum: momentum, dampening: dampening, nesterov: nesterov,
                          weightDecay: weightDecay)
    }

    /// Adam settings.
    public static func adam(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                            weightDecay: Float = 0) -> OptimizerSettings {
        OptimizerSettings(kind: .adam, learningRate: learningRate, weightDecay: weightDecay, beta1: beta1, beta2: beta2,
                          epsilon: epsilon)
    }

    /// Why these settings cannot build an optimiser (naming the field and the allowed range), or nil.
    public var problem: String? {
        func check(_ ok: Bool, _ text: @autoclosure () -> String) -> String? { ok ? nil : text() }
        return check(learningRate.isFinite && learningRate > 0, "lr \(learningRate) is not a finite number > 0")
            ?? check(momentum.isFinite && momentum >= 0 && momentum < 1, "momentum \(momentum) is not in [0, 1)")
            ?? check(dampening.isFinite && dampening >= 0 && dampening <= 1, "dampening \(dampening) is not in [0, 1]")
            ?? check(!nesterov || kind != .sgd || (momentum > 0 && dampening == 0),
                     "Nesterov momentum needs a momentum > 0 and no dampening")
            ?? check(weightDecay.isFinite && weightDecay >= 0, "weight decay \(weightDecay) is not a finite number ≥ 0")
            ?? check((0..<1).contains(beta1) && (0..<1).contains(beta2), "betas (\(beta1), \(beta2)) are not in [0, 1)")
            ?? check(epsilon.isFinite && epsilon > 0, "eps \(epsilon) is not a finite number > 0")
    }

    /// A new optimiser for `parameterCount` parameters with these settings (which must have no `problem`).
    public func makeOptimizer(parameterCount: Int) -> any Optimizer {
        precondition(problem == nil, "optimizer settings: \(problem ?? "")")
        return switch kind {
        case .sgd:
            SGD(parameterCount: parameterCount, learningRate: learningRate, momentum: momentum, dampening: dampening,
                weightDecay: weightDecay, nesterov: nesterov)
        case .adam:
            Adam(parameterCount: parameterCount, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                 weightDecay: weightDecay)
        }
    }

    /// The optimiser as PyTorch would name it, with the settings that differ from its defaults:
    /// "SGD(lr 0.01, momentum 0.9)", "Adam(lr 0.01)".
    public var description: String {
        var parts = ["lr \(learningRate)"]
        switch kind {
        case .sgd:
            parts.append("momentum \(momentum)")
            if dampening != 0 { parts.append("dampening \(dampening)") }
            if nesterov { parts.append("nesterov") }
        case .adam:
            if beta1 != 0.9 || beta2 != 0.999 { parts.append("betas (\(beta1), \(beta2))") }
            if epsilon != 1e-8 { parts.append("eps \(epsilon)") }
        }
        if weightDecay != 0 { parts.append("weight decay \(weightDecay)") }
        return "\(kind == .sgd ? "SGD" : "Adam")(\(parts.joined(separator: ", ")))"
    }

    enum CodingKeys: String, CodingKey {
        case kind = "name"
        case learningRate = "lr"
        case momentum, dampening, nesterov
        case weightDecay = "weight_decay"
        case beta1, beta2
        case epsilon = "eps"
    }
}
