/// An update rule over a model's flat parameter and gradient buffers.
///
/// Optimisers see only flat vectors, so the same object updates a model in one process and the
/// parameter server's copy of the weights.
public protocol Optimizer: AnyObject {
    /// The step size.
    var learningRate: Float { get set }
    /// The number of steps taken so far.
    var stepCount: Int { get }
    /// Applies one update to `parameters` from `gradients` (same length as at creation).
    func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>)
}

extension Optimizer {
    /// Applies one update to a model from its accumulated gradients.
    public func step(_ model: Model) {
        step(parameters: model.parameters, gradients: UnsafeBufferPointer(model.gradients))
    }
}
