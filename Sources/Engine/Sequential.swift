/// Layers applied one after another, each under a name that prefixes its parameters
/// (`fc1` gives `fc1.weight`, as in a PyTorch module with attributes or an `nn.Sequential`).
///
/// A `ReLU` directly followed by a `MaxPool2d` runs as one rectified pooling pass, and a `Conv2d`
/// before them pools each sample as it computes it (the same values and gradients, without the
/// full-size outputs and gradients in between).
public final class Sequential: Layer {
    /// The named layers in order.
    public let layers: [(name: String, layer: any Layer)]
    /// The layers as `forward` and `backward` run them: alone or fused with their neighbours.
    private let stages: [Stage]
    /// Where each layer's parameters start among the stack's parameters (buffers left out).
    private let parameterOffsets: [Int]

    /// One pass of `forward`: a layer, or a run of layers fused into one pass.
    private enum Stage {
        case layer(Int)
        /// ReLU → MaxPool2d, the pool taking the rectification.
        case rectifiedPool(MaxPool2d, first: Int)
        /// Conv2d → ReLU → MaxPool2d, the convolution pooling each sample.
        case convolutionReLUPool(Conv2d, MaxPool2d, first: Int)

        var first: Int {
            switch self {
            case .layer(let index), .rectifiedPool(_, let index), .convolutionReLUPool(_, _, let index): index
            }
        }
    }

    /// Creates a stack of named layers.
    public init(_ layers: [(String, any Layer)]) {
        let stack = layers.map { (name: $0.0, layer: $0.1) }
        self.layers = stack
        var stages: [Stage] = []
        var index = 0
        while index < stack.count {
            let next = index + 1 < stack.count ? stack[index + 1].layer : nil
            let afterNext = index + 2 < stack.count ? stack[index + 2].layer : nil
            if let convolution = stack[index].layer as? Conv2d, next is ReLU, let pool = afterNext as? MaxPool2d {
                stages.append(.convolutionReLUPool(convolution, pool, first: index))
                index += 3
            } else if stack[index].layer is ReLU, let pool = next as? MaxPool2d {
                stages.append(.rectifiedPool(pool, first: index))
                index += 2
            } else {
                stages.append(.layer(index))
                index += 1
            }
        }
        self.stages = stages
        var offsets: [Int] = [], offset = 0
        for entry in stack {
            offsets.append(offset)
            offset += entry.layer.parameterSpecs.reduce(0) { $0 + ($1.kind == .parameter ? $1.count : 0) }
        }
        parameterOffsets = offsets
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
        for stage in stages {
            switch stage {
            case .layer(let index): x = layers[index].layer.forward(x, mode: mode)
            case .rectifiedPool(let pool, _): x = pool.forward(x, mode: mode, rectified: true)
            case .convolutionReLUPool(let convolution, let pool, _): x = convolution.forward(x, mode: mode, thenReLUAndPool: pool)
            }
        }
        return x
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        backward(outputGradient, needsInputGradient: needsInputGradient, afterEachStage: { _ in })
    }

    /// Backpropagates as `backward(_:needsInputGradient:)` does, calling `finalFrom(offset)` after each
    /// layer (or fused run of layers), last first: from `offset` (counted in this stack's parameters) to
    /// the end, the parameter gradients of this pass are then final.
    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool, afterEachStage finalFrom: (Int) -> Void) -> Tensor? {
        var gradient = outputGradient
        for stage in stages.reversed() {
            defer { finalFrom(parameterOffsets[stage.first]) }
            // A fused stage's gradient is already the gradient w.r.t. its first layer's input.
            let needed = stage.first > 0 || needsInputGradient
            let next: Tensor?
            switch stage {
            case .layer(let index): next = layers[index].layer.backward(gradient, needsInputGradient: needed)
            case .rectifiedPool(let pool, _): next = pool.backward(gradient, needsInputGradient: needed)
            case .convolutionReLUPool(let convolution, let pool, _):
                next = convolution.backward(gradient, needsInputGradient: needed, throughReLUAndPool: pool)
            }
            guard let next else { return nil }
            gradient = next
        }
        return gradient
    }
}
