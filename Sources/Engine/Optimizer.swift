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
    /// Applies one update to `current` and writes the result to `next` (both of the same length; they
    /// must not overlap), leaving `current` unchanged: the same arithmetic as the in-place step.
    func step(from current: UnsafeBufferPointer<Float>, into next: UnsafeMutableBufferPointer<Float>,
              gradients: UnsafeBufferPointer<Float>)
    /// The state a resumed run needs, by PyTorch's names ("momentum_buffer"; "exp_avg", "exp_avg_sq"),
    /// each flat over all parameters; empty when the optimiser keeps none.
    var stateBuffers: [(name: String, values: [Float])] { get }
    /// Restores a state saved from `stateBuffers` and `stepCount`; throws if a buffer is missing or of another size.
    func restore(stepCount: Int, buffers: [String: [Float]]) throws
}

/// A saved optimiser state that does not fit the optimiser.
public struct OptimizerStateError: Error, CustomStringConvertible {
    /// What does not fit.
    public var description: String
    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}

/// Checks that `buffers` holds `name` with `count` values, and returns it.
func stateBuffer(_ name: String, in buffers: [String: [Float]], count: Int) throws -> [Float] {
    guard let values = buffers[name] else { throw OptimizerStateError("the saved optimiser state has no \(name)") }
    guard values.count == count else {
        throw OptimizerStateError("the saved \(name) has \(values.count) values, the model \(count) parameters")
    }
    return values
}

extension Optimizer {
    /// Copies `current` into `next`, then steps in place.
    public func step(from current: UnsafeBufferPointer<Float>, into next: UnsafeMutableBufferPointer<Float>,
                     gradients: UnsafeBufferPointer<Float>) {
        precondition(current.count == next.count, "parameter counts differ")
        if let source = current.baseAddress, let target = next.baseAddress { target.update(from: source, count: current.count) }
        step(parameters: next, gradients: gradients)
    }

    /// Applies one update to a model from its accumulated gradients.
    public func step(_ model: Model) {
        step(parameters: model.parameters, gradients: UnsafeBufferPointer(model.gradients))
    }
}
