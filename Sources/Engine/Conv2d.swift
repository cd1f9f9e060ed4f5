/// A 2-D convolution over [batch, channels, height, width] with PyTorch's `weight`
/// [out, in, kh, kw] and `bias` [out], stride and zero padding.
///
/// Each sample is unfolded (im2col) into a [in·kh·kw, outH·outW] matrix and multiplied by the
/// weight matrix in one single-threaded sgemm; samples are spread over the compute pool, each
/// thread with its own scratch and gradient partials, summed at the end. Followed by ReLU and a
/// `MaxPool2d` (as `Sequential` runs them), each sample's output is pooled while it is in cache and
/// the full-size output and its gradient never exist.
public final class Conv2d: Layer {
    /// Input channels.
    public let inChannels: Int
    /// Output channels.
    public let outChannels: Int
    /// Kernel height and width.
    public var kernelSize: (height: Int, width: Int) { window.kernel }
    /// Step between applications of the kernel, vertically and horizontally.
    public var stride: (height: Int, width: Int) { window.stride }
    /// Zeros added on each side, vertically and horizontally.
    public var padding: (height: Int, width: Int) { window.padding }
    /// Whether the layer adds a bias per output channel.
    public let hasBias: Bool

    private let window: SlidingWindow
    private var tensors: WeightAndBias
    private let output = Tensor()
    private let inputGradient = Tensor()
    private var savedInput: Tensor?
    private var scratch: [Scratch] = []

    /// Per-thread buffers: the unfolded sample, its gradient, one sample's output or output gradient
    /// (when pooled on the way), and gradient partials.
    private final class Scratch {
        let columns = Tensor()
        let columnGradient = Tensor()
        let sampleOutput = Tensor()
        let weightGradient = Tensor()
        let biasGradient = Tensor()
    }

    /// Creates a convolution with a square kernel, stride and padding.
    public convenience init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                            bias: Bool = true) {
        self.init(inChannels, outChannels, kernelSize: (kernelSize, kernelSize), stride: (stride, stride),
                  padding: (padding, padding), bias: bias)
    }

    /// Creates a convolution with separate heights and widths for kernel, stride and padding.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), bias: Bool = true) {
        precondition(kernelSize.0 > 0 && kernelSize.1 > 0 && stride.0 > 0 && stride.1 > 0 && padding.0 >= 0 && padding.1 >= 0,
                     "Conv2d needs a positive kernel and stride and a non-negative padding")
        self.inChannels = inChannels
        self.outChannels = outChannels
        window = SlidingWindow(kernel: kernelSize, stride: stride, padding: padding)
        self.hasBias = bias
        tensors = WeightAndBias(weightShape: [outChannels, inChannels, kernelSize.0, kernelSize.1], bias: bias)
    }

    private var patchSize: Int { inChannels * kernelSize.height * kernelSize.width }

    public var parameterSpecs: [ParameterSpec] { tensors.specs }

    public func bind(_ slots: [ParameterSlot]) { tensors.bind(slots) }

    /// PyTorch's default: weight and bias uniform in ±1/√(in·kh·kw).
    public func resetParameters(using generator: inout SeededGenerator) { tensors.reset(using: &generator) }

    /// The output height and width for an input of the given height and width.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        window.outputSize(height: height, width: width)
    }

    private func geometry(of input: Tensor) -> Geometry {
        precondition(input.shape.count == 4 && input.shape[1] == inChannels,
                     "Conv2d expects [batch, \(inChannels), height, width], got \(input.shape)")
        let (outHeight, outWidth) = outputSize(height: input.shape[2], width: input.shape[3])
        precondition(outHeight > 0 && outWidth > 0, "Conv2d: input \(input.shape) is smaller than the kernel")
        return Geometry(channels: inChannels, height: input.shape[2], width: input.shape[3],
                        kernelHeight: kernelSize.height, kernelWidth: kernelSize.width,
                        strideHeight: stride.height, strideWidth: stride.width,
                        padHeight: padding.height, padWidth: padding.width, outHeight: outHeight, outWidth: outWidth)
    }

    private func prepareScratch(threads: Int, pixels: Int) {
        while scratch.count < threads { scratch.append(Scratch()) }
        for buffers in scratch.prefix(threads) {
            buffers.columns.resize(to: [patchSize, pixels])
            buffers.columnGradient.resize(to: [patchSize, pixels])
            buffers.sampleOutput.resize(to: [outChannels, pixels])
        }
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        forward(input, mode: mode, pooling: nil)
    }

    /// The convolution, ReLU and `pool` in one pass: `pool`'s output (of the rectified convolution),
    /// each sample pooled while its convolution output is in cache. `backward(_:needsInputGradient:throughReLUAndPool:)`
    /// takes the gradient of that output.
    public func forward(_ input: Tensor, mode: Mode, thenReLUAndPool pool: MaxPool2d) -> Tensor {
        forward(input, mode: mode, pooling: pool)
    }

    private func forward(_ input: Tensor, mode: Mode, pooling pool: MaxPool2d?) -> Tensor {
        let g = geometry(of: input)
        let batch = input.shape[0], pixels = g.outHeight * g.outWidth
        let shape = [batch, outChannels, g.outHeight, g.outWidth]
        let result: Tensor
        if let pool {
            result = pool.prepare(inputShape: shape, mode: mode, rectified: true)
        } else {
            output.resize(to: shape)
            result = output
        }
        let threads = min(ComputePool.shared.threadCount, max(batch, 1))
        prepareScratch(threads: threads, pixels: pixels)
        let inputSize = inChannels * g.height * g.width, outputSize = outChannels * pixels
        let x = input.data, y = output.data, w = tensors.weight!, b = tensors.bias, k = patchSize, outChannels = outChannels
        let scratch = scratch
        ComputePool.shared.run(parts: threads) { part in
            let columns = scratch[part].columns.data, sampleOutput = scratch[part].sampleOutput.data
            for sample in Swift.stride(from: part, to: batch, by: threads) {
                let ySample = pool == nil ? y + sample * outputSize : sampleOutput
                g.unfold(x + sample * inputSize, into: columns)
                var beta: Float = 0
                if let b {
                    for o in 0..<outChannels { (ySample + o * pixels).update(repeating: b[o], count: pixels) }
                    beta = 1
                }
                BLAS.serialGemm(m: outChannels, n: pixels, k: k, a: w, lda: k, b: columns, ldb: pixels,
                                beta: beta, c: ySample, ldc: pixels)
                pool?.pool(planes: sample * outChannels..<(sample + 1) * outChannels, from: ySample)
            }
        }
        savedInput = mode == .training ? input : nil
        return result
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        backward(outputGradient, needsInputGradient: needsInputGradient, pooling: nil)
    }

    /// Backward through `forward(_:mode:thenReLUAndPool:)`: `outputGradient` is the gradient of the pool's output.
    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool, throughReLUAndPool pool: MaxPool2d) -> Tensor? {
        backward(outputGradient, needsInputGradient: needsInputGradient, pooling: pool)
    }

    private func backward(_ outputGradient: Tensor, needsInputGradient: Bool, pooling pool: MaxPool2d?) -> Tensor? {
        guard let input = savedInput else { preconditionFailure("Conv2d.backward without a training-mode forward") }
        let g = geometry(of: input)
        let batch = input.shape[0], pixels = g.outHeight * g.outWidth, k = patchSize, outChannels = outChannels
        let threads = min(ComputePool.shared.threadCount, max(batch, 1))
        prepareScratch(threads: threads, pixels: pixels)
        for buffers in scratch.prefix(threads) {
            buffers.weightGradient.resize(to: [outChannels, k])
            buffers.weightGradient.zero()
            buffers.biasGradient.resize(to: [outChannels])
            buffers.biasGradient.zero()
        }
        if needsInputGradient { inputGradient.resize(to: input.shape) }
        precondition(outputGradient.count == (pool?.outputCount ?? batch * outChannels * pixels),
                     "Conv2d.backward: output gradient \(outputGradient.shape) does not match the forward pass")
        let inputSize = inChannels * g.height * g.width, outputSize = outChannels * pixels
        let x = input.data, dy = outputGradient.data, w = tensors.weight!, dx = inputGradient.data
        let scratch = scratch, withBias = hasBias
        ComputePool.shared.run(parts: threads) { part in
            let buffers = scratch[part]
            let columns = buffers.columns.data, columnGradient = buffers.columnGradient.data
            let dw = buffers.weightGradient.data, db = buffers.biasGradient.data, sampleGradient = buffers.sampleOutput.data
            for sample in Swift.stride(from: part, to: batch, by: threads) {
                let dySample: UnsafePointer<Float>
                if let pool {
                    // The gradient w.r.t. this sample's convolution output, through the pool and the ReLU.
                    pool.unpool(planes: sample * outChannels..<(sample + 1) * outChannels, gradient: dy, into: sampleGradient)
                    dySample = UnsafePointer(sampleGradient)
                } else {
                    dySample = UnsafePointer(dy + sample * outputSize)
                }
                g.unfold(x + sample * inputSize, into: columns)
                // dW[out, k] += dY[out, pixels] · columnsᵀ[pixels, k]
                BLAS.serialGemm(transposeB: true, m: outChannels, n: k, k: pixels, a: dySample, lda: pixels,
                                b: columns, ldb: pixels, beta: 1, c: dw, ldc: k)
                if withBias {
                    for o in 0..<outChannels { db[o] += sum(dySample + o * pixels, count: pixels) }
                }
                if needsInputGradient {
                    // dColumns[k, pixels] = Wᵀ[k, out] · dY[out, pixels], folded back onto the input.
                    BLAS.serialGemm(transposeA: true, m: k, n: pixels, k: outChannels, a: w, lda: k, b: dySample, ldb: pixels,
                                    beta: 0, c: columnGradient, ldc: pixels)
                    (dx + sample * inputSize).update(repeating: 0, count: inputSize)
                    g.fold(columnGradient, into: dx + sample * inputSize)
                }
            }
        }
        let dw = tensors.weightGradient!
        for buffers in scratch.prefix(threads) {
            let partial = buffers.weightGradient.data
            for i in 0..<outChannels * k { dw[i] += partial[i] }
            if let biasGradient = tensors.biasGradient {
                for o in 0..<outChannels { biasGradient[o] += buffers.biasGradient[o] }
            }
        }
        return needsInputGradient ? inputGradient : nil
    }
}
