/// Flattens every dimension after the batch into one (PyTorch's `Flatten()`): [b, c, h, w] → [b, c·h·w].
public final class Flatten: Layer {
    private let output = Tensor()
    private let inputGradient = Tensor()
    private var inputShape: [Int] = []

    /// Creates the layer.
    public init() {}

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        inputShape = input.shape
        output.resize(to: [input.rows, input.columns])
        output.data.update(from: input.data, count: input.count)
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        inputGradient.resize(to: inputShape)
        inputGradient.data.update(from: outputGradient.data, count: outputGradient.count)
        return inputGradient
    }
}
