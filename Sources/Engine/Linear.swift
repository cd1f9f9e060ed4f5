/// A fully connected layer, y = x·Wᵀ + b, with PyTorch's `weight` [out, in] and `bias` [out].
public final class Linear: Layer {
    /// The size of each input row.
    public let inFeatures: Int
    /// The size of each output row.
    public let outFeatures: Int
    /// Whether the layer adds a bias.
    public let hasBias: Bool

    private var tensors: WeightAndBias
    private let output = Tensor()
    private let inputGradient = Tensor()
    private var savedInput: Tensor?

    /// Creates a layer mapping `inFeatures` to `outFeatures`.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.hasBias = bias
        tensors = WeightAndBias(weightShape: [outFeatures, inFeatures], bias: bias)
    }

    public var parameterSpecs: [ParameterSpec] { tensors.specs }

    public func bind(_ slots: [ParameterSlot]) { tensors.bind(slots) }

    /// PyTorch's default: weight and bias uniform in ±1/√in (kaiming_uniform with a = √5).
    public func resetParameters(using generator: inout SeededGenerator) { tensors.reset(using: &generator) }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        let rows = input.rows
        precondition(input.columns == inFeatures, "Linear expects \(inFeatures) features, got shape \(input.shape)")
        output.resize(to: [rows, outFeatures])
        var beta: Float = 0
        if let bias = tensors.bias {
            for r in 0..<rows { (output.data + r * outFeatures).update(from: bias, count: outFeatures) }
            beta = 1
        }
        BLAS.gemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                  a: input.data, lda: inFeatures, b: tensors.weight!, ldb: inFeatures, beta: beta, c: output.data, ldc: outFeatures)
        savedInput = mode == .training ? input : nil
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard let input = savedInput else { preconditionFailure("Linear.backward without a training-mode forward") }
        let rows = input.rows
        let dy = outputGradient.data
        // dW[out, in] += dyᵀ[out, rows] · x[rows, in]
        BLAS.gemm(transposeA: true, m: outFeatures, n: inFeatures, k: rows,
                  a: dy, lda: outFeatures, b: input.data, ldb: inFeatures, beta: 1, c: tensors.weightGradient!, ldc: inFeatures)
        if let biasGradient = tensors.biasGradient {
            for r in 0..<rows {
                let row = dy + r * outFeatures
                for o in 0..<outFeatures { biasGradient[o] += row[o] }
            }
        }
        guard needsInputGradient else { return nil }
        // dx[rows, in] = dy[rows, out] · W[out, in]
        inputGradient.resize(to: input.shape)
        BLAS.gemm(m: rows, n: inFeatures, k: outFeatures,
                  a: dy, lda: outFeatures, b: tensors.weight!, ldb: inFeatures, beta: 0, c: inputGradient.data, ldc: inFeatures)
        return inputGradient
    }
}
