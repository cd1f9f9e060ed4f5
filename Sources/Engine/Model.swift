/// A network whose parameters and gradients live in two flat Float buffers with a named view per
/// tensor, in PyTorch `state_dict` order; buffers (running statistics) live in a third.
///
/// One contiguous buffer makes an optimiser step, a checkpoint or a network transfer one range. Buffers
/// are kept apart so that nothing that moves or steps `parameters` (optimisers, a cluster's weight
/// vector) ever touches them; checkpoints hold both.
public final class Model {
    /// The layer graph.
    public let root: any Layer
    /// The named parameters in `parameters`, in `state_dict` order.
    public let views: [ParameterView]
    /// The named buffers in `buffers`, in `state_dict` order.
    public let bufferViews: [ParameterView]
    /// Every named tensor, parameters and buffers, in PyTorch's `state_dict` order.
    public let stateDictViews: [ParameterView]
    /// All parameters, contiguous.
    public let parameters: UnsafeMutableBufferPointer<Float>
    /// All gradients, in the same layout as `parameters`.
    public let gradients: UnsafeMutableBufferPointer<Float>
    /// All buffers, contiguous: updated by the layers themselves, never by an optimiser.
    public let buffers: UnsafeMutableBufferPointer<Float>
    /// The memory behind the three, which every layer bound to it also keeps alive.
    private let storage: FlatStorage

    /// Wraps a layer graph, allocates its flat buffers and initialises it as PyTorch would, from `seed`.
    public init(_ root: any Layer, seed: UInt64 = 0) {
        self.root = root
        var stateDict: [ParameterView] = []
        var parameterCount = 0, bufferCount = 0
        for spec in root.parameterSpecs {
            switch spec.kind {
            case .parameter:
                stateDict.append(ParameterView(name: spec.name, shape: spec.shape, offset: parameterCount))
                parameterCount += spec.count
            case .buffer:
                stateDict.append(ParameterView(name: spec.name, shape: spec.shape, offset: bufferCount, kind: .buffer))
                bufferCount += spec.count
            }
        }
        stateDictViews = stateDict
        views = stateDict.filter { $0.kind == .parameter }
        bufferViews = stateDict.filter { $0.kind == .buffer }
        let storage = FlatStorage(parameters: parameterCount, buffers: bufferCount)
        self.storage = storage
        parameters = storage.parameters
        gradients = storage.gradients
        buffers = storage.buffers
        let base = parameters.baseAddress!, gradientBase = gradients.baseAddress!, bufferBase = buffers.baseAddress!
        root.bind(stateDict.map { view in
            switch view.kind {
            case .parameter:
                ParameterSlot(value: base + view.offset, gradient: gradientBase + view.offset, count: view.count, owner: storage)
            case .buffer:
                ParameterSlot(value: bufferBase + view.offset, gradient: nil, count: view.count, owner: storage)
            }
        })
        var generator = SeededGenerator(seed: seed)
        root.resetParameters(using: &generator)
    }


    /// The total number of parameters (buffers not included).
    public var parameterCount: Int { parameters.count }
    /// A copy of all parameters: a buffer pointer taken from a model does not keep the model alive,
    /// so `Array(Model(...).parameters)` may read freed memory and this may not.
    public var parameterValues: [Float] { Array(parameters) }
    /// A copy of all gradients (see `parameterValues`).
    public var gradientValues: [Float] { Array(gradients) }

    /// Runs the network; training mode keeps what `backward` needs, evaluation mode does no gradient work.
    public func forward(_ input: Tensor, mode: Mode = .training) -> Tensor {
        root.forward(input, mode: mode)
    }

    /// Backpropagates the loss gradient w.r.t. the output, accumulating into `gradients`.
    public func backward(_ outputGradient: Tensor) {
        _ = root.backward(outputGradient, needsInputGradient: false)
    }

    /// Backpropagates as `backward(_:)` does, calling `finalFrom(offset)` each time the gradients from
    /// `offset` to the end are final for this pass (last layer first, ending with 0), so they can be
    /// used while backward goes on.
    public func backward(_ outputGradient: Tensor, finalFrom: (Int) -> Void) {
        if let stack = root as? Sequential {
            _ = stack.backward(outputGradient, needsInputGradient: false, afterEachStage: finalFrom)
        } else {
            backward(outputGradient)
            finalFrom(0)
        }
    }

    /// Sets every gradient to zero.
    public func zeroGradients() {
        let base = gradients.baseAddress!
        ComputePool.shared.forEachRange(gradients.count, minimumPerThread: 32768) { range in
            (base + range.lowerBound).update(repeating: 0, count: range.count)
        }
    }

    /// The view of the parameter with this `state_dict` name, if there is one.
    public func view(named name: String) -> ParameterView? {
        views.first { $0.name == name }
    }

    /// The values of one named parameter.
    public func parameter(named name: String) -> UnsafeMutableBufferPointer<Float>? {
        view(named: name).map { UnsafeMutableBufferPointer(rebasing: parameters[$0.range]) }
    }

    /// The gradient of one named parameter.
    public func gradient(named name: String) -> UnsafeMutableBufferPointer<Float>? {
        view(named: name).map { UnsafeMutableBufferPointer(rebasing: gradients[$0.range]) }
    }

    /// The values of one named buffer.
    public func buffer(named name: String) -> UnsafeMutableBufferPointer<Float>? {
        bufferViews.first { $0.name == name }.map { UnsafeMutableBufferPointer(rebasing: buffers[$0.range]) }
    }

    /// The values behind any view of this model, parameter or buffer.
    public func values(of view: ParameterView) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: (view.kind == .parameter ? parameters : buffers)[view.range])
    }

    /// A 64-bit fingerprint of the architecture (names and shapes of parameters, then of buffers), equal
    /// for identical models; a model without buffers keeps the fingerprint it had before buffers existed.
    public var fingerprint: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01B3
        }
        for view in views + bufferViews {
            for byte in view.name.utf8 { mix(byte) }
            mix(0)
            for dimension in view.shape {
                withUnsafeBytes(of: UInt64(dimension).littleEndian) { $0.forEach(mix) }
            }
        }
        return hash
    }
}

/// The memory of a model's parameters, gradients and buffers. Layers keep a reference to it
/// (`ParameterSlot.owner`), so a layer that outlives its `Model` still points at live memory.
final class FlatStorage {
    private let storage: (parameters: FloatBuffer, gradients: FloatBuffer, buffers: FloatBuffer)
    var parameters: UnsafeMutableBufferPointer<Float> { storage.parameters.values }
    var gradients: UnsafeMutableBufferPointer<Float> { storage.gradients.values }
    var buffers: UnsafeMutableBufferPointer<Float> { storage.buffers.values }

    init(parameters parameterCount: Int, buffers bufferCount: Int) {
        storage = (FloatBuffer(count: parameterCount), FloatBuffer(count: parameterCount), FloatBuffer(count: bufferCount))
    }
}
