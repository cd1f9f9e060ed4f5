import Foundation

/// Binary cross-entropy of probabilities, averaged (PyTorch's `BCELoss()`, logs clamped at −100).
public final class BCELoss {
    private let inputGradient = Tensor()
    private let savedPrediction = Tensor()
    private let savedTarget = Tensor()

    /// Creates the loss.
    public init() {}

    /// −mean(t·log p + (1 − t)·log(1 − p)) for probabilities p in [0, 1].
    public func forward(_ prediction: Tensor, target: Tensor) -> Float {
        precondition(prediction.count == target.count, "BCELoss: shapes \(prediction.shape) and \(target.shape) differ in size")
        savedPrediction.copy(from: prediction)
        savedTarget.copy(from: target)
        var total: Double = 0
        for i in 0..<prediction.count {
            let p = prediction[i], t = target[i]
            let logP = max(logf(p), -100), logNotP = max(logf(1 - p), -100)
            total -= Double(t * logP + (1 - t) * logNotP)
        }
        return prediction.count == 0 ? 0 : Float(total / Double(prediction.count))
    }

    /// The gradient w.r.t. the probabilities: (p − t) / max(p(1 − p), 1e−12) / count, as PyTorch computes it.
    public func backward() -> Tensor {
        inputGradient.resize(to: savedPrediction.shape)
        let scale = 1 / Float(max(savedPrediction.count, 1))
        for i in 0..<savedPrediction.count {
            let p = savedPrediction[i], t = savedTarget[i]
            inputGradient[i] = scale * (p - t) / max((1 - p) * p, 1e-12)
        }
        return inputGradient
    }
}

/// Binary cross-entropy on raw logits, averaged (PyTorch's `BCEWithLogitsLoss()`), computed stably.
public final class BCEWithLogitsLoss {
    private let inputGradient = Tensor()
    private let savedLogits = Tensor()
    private let savedTarget = Tensor()

    /// Creates the loss.
    public init() {}

    /// mean(max(x, 0) − x·t + log(1 + e^−|x|)).
    public func forward(_ logits: Tensor, target: Tensor) -> Float {
        precondition(logits.count == target.count, "BCEWithLogitsLoss: shapes \(logits.shape) and \(target.shape) differ in size")
        savedLogits.copy(from: logits)
        savedTarget.copy(from: target)
        var total: Double = 0
        for i in 0..<logits.count {
            let x = logits[i], t = target[i]
            total += Double(max(x, 0) - x * t + log1pf(expf(-abs(x))))
        }
        return logits.count == 0 ? 0 : Float(total / Double(logits.count))
    }

    /// The gradient w.r.t. the logits: (σ(x) − t) / count.
    public func backward() -> Tensor {
        inputGradient.resize(to: savedLogits.shape)
        let scale = 1 / Float(max(savedLogits.count, 1))
        for i in 0..<savedLogits.count {
            inputGradient[i] = scale * (Sigmoid.value(savedLogits[i]) - savedTarget[i])
        }
        return inputGradient
    }
}
