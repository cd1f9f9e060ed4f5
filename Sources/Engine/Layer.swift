/// Whether a forward pass trains or evaluates, as PyTorch's `train()` and `eval()` (with `no_grad`):
/// training keeps what backward needs, normalises `BatchNorm2d` with the batch's statistics (updating its
/// running ones) and drops `Dropout`'s elements; evaluation does no gradient work, uses the running
/// statistics and drops nothing.
public enum Mode: Sendable {
    case training
    case evaluation
}

/// A tensor a layer declares: its local name (as in PyTorch's `state_dict`), shape, and whether it is
/// trained (a parameter) or a buffer the layer updates itself (running statistics).
public struct ParameterSpec: Sendable, Equatable {
    /// Whether a declared tensor is trained.
    public enum Kind: Sendable, Equatable {
        /// Trained: it has a gradient, goes through the optimiser and travels in a cluster's weight vector.
        case parameter
        /// Part of the `state_dict` (checkpoints) only: no gradient, never seen by an optimiser.
        case buffer
    }

    /// The name inside its layer, for example `weight` or `bias_ih_l0`.
    public var name: String
    /// The shape, outermost dimension first (empty for a scalar).
    public var shape: [Int]
    /// Parameter or buffer.
    public var kind: Kind
    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Creates a declaration, of a parameter unless `kind` says otherwise.
    public init(_ name: String, _ shape: [Int], kind: Kind = .parameter) {
        self.name = name
        self.shape = shape
        self.kind = kind
    }

    /// Declares a buffer.
    public static func buffer(_ name: String, _ shape: [Int]) -> ParameterSpec {
        ParameterSpec(name, shape, kind: .buffer)
    }
}

/// The storage of one declared tensor inside a model's flat buffers.
public struct ParameterSlot {
    /// The tensor's values.
    public let value: UnsafeMutablePointer<Float>
    /// The parameter's accumulated gradient; nil for a buffer.
    public let gradient: UnsafeMutablePointer<Float>?
    /// The number of elements.
    public let count: Int
    /// The memory `value` and `gradient` point into: a layer keeps it so that they stay valid for as
    /// long as the layer lives, even past its `Model`.
    public let owner: AnyObject
}

/// A differentiable building block with an explicit forward and backward pass.
///
/// Parameters live in the owning `Model`'s flat buffers; a layer receives pointers to its part
/// through `bind(_:)` and keeps the slots' `owner`. `backward` accumulates parameter gradients with `+=`, as PyTorch does.
public protocol Layer: AnyObject {
    /// The parameters and buffers this layer owns, in `state_dict` order.
    var parameterSpecs: [ParameterSpec] { get }
    /// Gives the layer the storage for its parameters and buffers, one slot per spec in the same order.
    func bind(_ slots: [ParameterSlot])
    /// Sets the parameters and buffers to PyTorch's default initialisation.
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
