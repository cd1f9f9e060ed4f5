/// Layers applied one after another, each under a name that prefixes its parameters
/// (`fc1` gives `fc1.weight`, as in a PyTorch module with attributes or an `nn.Sequential`).
public final class Sequential: Layer {
    /// The named layers in order.
    public let layers: [(name: String, layer: any Layer)]

    /// Creates a stack of named layers.
    public init(_ layers: [(String, any Layer)]) {
        self.layers = layers.map { (name: $0.0, layer: $0.1) }
    }

    /// Creates a stack named by position (`0.weight`, `2.weight`, …), as `nn.Sequential` names them.
    public convenience init(_ layers: any Layer...) {
        self.init(layers.enumerated().map { (String($0.offset), $0.element) })
    }

    public var parameterSpecs: [ParameterSpec] {
        layers.flatMap { entry in
            entry.layer.parameterSpecs.map { ParameterSpec("\(entry.name).\($0.name)", $0.shape) }
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
        for entry in layers { x = entry.layer.forward(x, mode: mode) }
        return x
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        var gradient = outputGradient
        for (index, entry) in layers.enumerated().reversed() {
            let needed = index > 0 || needsInputGradient
            guard let next = entry.layer.backward(gradient, needsInputGradient: needed) else { return nil }
            gradient = next
        }
        return gradient
    }
}
