/// The mean squared error over all elements (PyTorch's `MSELoss()`).
public final class MSELoss {
    private let inputGradient = Tensor()
    private let difference = Tensor()

    /// Creates the loss.
    public init() {}

    /// mean((prediction − target)²); both tensors have the same number of elements.
    public func forward(_ prediction: Tensor, target: Tensor) -> Float {
        precondition(prediction.count == target.count, "MSELoss: shapes \(prediction.shape) and \(target.shape) differ in size")
        difference.resize(to: prediction.shape)
        var total: Double = 0
        for i in 0..<prediction.count {
            let d = prediction[i] - target[i]
            difference[i] = d
            total += Double(d * d)
        }
        return prediction.count == 0 ? 0 : Float(total / Double(prediction.count))
    }

    /// The gradient of the last loss w.r.t. the prediction: 2(prediction − target) / count.
    public func backward() -> Tensor {
        inputGradient.resize(to: difference.shape)
        let scale = 2 / Float(max(difference.count, 1))
        for i in 0..<difference.count { inputGradient[i] = scale * difference[i] }
        return inputGradient
    }
}
