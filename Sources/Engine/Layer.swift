/// Whether a forward pass keeps what backward needs (training) or does no gradient work (evaluation).
public enum Mode: Sendable {
    case training
    case evaluation
}

/// A parameter a layer declares: its local name (as in PyTorch's `state_dict`) and shape.
public struct ParameterSpec: Sendable, Equatable {
    /// The name inside its layer, for example `weight` or `bias_ih_l0`.
    public var name: String
    /// The shape, outermost dimension first.
    public var shape: [Int]
    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Creates a parameter declaration.
    public init(_ name: String, _ shape: [Int]) {
        self.name = name
        self.shape = shape
    }
}

/// The storage of one parameter inside a model's flat buffers.
public struct ParameterSlot {
    /// The parameter's values.
    public let value: UnsafeMutablePointer<Float>
    /// The parameter's accumulated gradient.
    public let gradient: UnsafeMutablePointer<Float>
    /// The number of elements.
    public let count: Int
}

/// A differentiable building block with an explicit forward and backward pass.
///
/// Parameters live in the owning `Model`'s flat buffers; a layer receives pointers to its part
/// through `bind(_:)`. `backward` accumulates parameter gradients with `+=`, as PyTorch does.
public protocol Layer: AnyObject {
    /// The parameters this layer owns, in `state_dict` order.
    var parameterSpecs: [ParameterSpec] { get }
    /// Gives the layer the storage for its parameters, one slot per spec in the same order.
    func bind(_ slots: [ParameterSlot])
    /// Sets the parameters to PyTorch's default initialisation.
    func resetParameters(using generator: inout SeededGenerator)
    /// Computes the output; in training mode it also keeps what `backward` needs.
    func forward(_ input: Tensor, mode: Mode) -> Tensor
    /// Accumulates parameter gradients and returns the gradient w.r.t. the input, if asked for.
    func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor?
}

extension Layer {
    public var parameterSpecs: [ParameterSpec] { [] }
    public func bind(_ slots: [ParameterSlot]) {}
    public func resetParameters(using generator: inout SeededGenerator) {}
}
