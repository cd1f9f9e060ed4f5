/// Layers applied one after another, each under a name that prefixes its parameters
/// (`fc1` gives `fc1.weight`, as in a PyTorch module with attributes or an `nn.Sequential`).
///
/// A `ReLU` directly followed by a `MaxPool2d` runs as one rectified pooling pass (the same values
/// and gradients, without the ReLU's full-size output and gradient).
public final class Sequential: Layer {
    /// The named layers in order.
    public let layers: [(name: String, layer: any Layer)]
    /// The indices of the `MaxPool2d` layers that take over the `ReLU` just before them.
    private let fusedPools: Set<Int>

    /// Creates a stack of named layers.
    public init(_ layers: [(String, any Layer)]) {
        let stack = layers.map { (name: $0.0, layer: $0.1) }
        self.layers = stack
        fusedPools = Set(stack.indices.dropFirst().filter { stack[$0].layer is MaxPool2d && stack[$0 - 1].layer is ReLU })
    }

    /// Creates a stack named by position (`0.weight`, `2.weight`, …), as `nn.Sequential` names them.
    public convenience init(_ layers: any Layer...) {
        self.init(layers.enumerated().map { (String($0.offset), $0.element) })
    }

    public var parameterSpecs: [ParameterSpec] {
        layers.flatMap { entry in
            entry.layer.parameterSpecs.map { ParameterSpec("\(entry.name).\($0.name)", $0.shape, kind: $0.kind) }
        }
    }

    public func bind(_ slots: [ParameterSlot]) {
        var next = 0
        for entry in layers {
            let count = entry.layer.parameterSpecs.count
            entry.layer.bind(Array(slots[next..<next + count]))
            next += count
        }
    }

    public func resetParameters(using generator: inout SeededGenerator) {
        for entry in layers { entry.layer.resetParameters(using: &generator) }
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        var x = input
        var index = 0
        while index < layers.count {
            if fusedPools.contains(index + 1), let pool = layers[index + 1].layer as? MaxPool2d {
                x = pool.forward(x, mode: mode, rectified: true)
                index += 2
            } else {
                x = layers[index].layer.forward(x, mode: mode)
                index += 1
            }
        }
        return x
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        var gradient = outputGradient
        var index = layers.count - 1
        while index >= 0 {
            // A fused pool's gradient is already the gradient w.r.t. its ReLU's input.
            let first = fusedPools.contains(index) ? index - 1 : index
            let needed = first > 0 || needsInputGradient
            guard let next = layers[index].layer.backward(gradient, needsInputGradient: needed) else { return nil }
            gradient = next
            index = first - 1
        }
        return gradient
    }
}
