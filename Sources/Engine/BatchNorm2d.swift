/// Batch normalisation over the channels of [batch, channels, height, width], PyTorch's `BatchNorm2d`:
/// y = (x − mean) / √(variance + eps) · weight + bias per channel.
///
/// `weight` (ones) and `bias` (zeros), [C], are trained. `running_mean` (zeros), `running_var` (ones), [C],
/// and `num_batches_tracked` (0, a scalar) are buffers: in the `state_dict` under PyTorch's names, never
/// given a gradient or seen by the optimiser. Training mode normalises with the batch's mean and biased
/// variance over (batch, height, width) and then updates running = (1 − momentum)·running +
/// momentum·statistic, with the unbiased variance (·n/(n − 1)), and counts the batch; evaluation mode
/// normalises with the running statistics and changes nothing.
public final class BatchNorm2d: Layer {
    /// C, the number of channels.
    public let numFeatures: Int
    /// Added to the variance before the square root.
    public let eps: Float
    /// The weight of each new batch statistic in the running ones.
    public let momentum: Float

    private var weight: UnsafeMutablePointer<Float>?
    private var weightGradient: UnsafeMutablePointer<Float>?
    private var bias: UnsafeMutablePointer<Float>?
    private var biasGradient: UnsafeMutablePointer<Float>?
    private var runningMean: UnsafeMutablePointer<Float>?
    private var runningVariance: UnsafeMutablePointer<Float>?
    private var batchesTracked: UnsafeMutablePointer<Float>?
    private var storageOwner: AnyObject?  // keeps the memory the pointers above point into
    private let output = Tensor()
    private let inputGradient = Tensor()
    private let normalized = Tensor()            // x̂ of the last training-mode forward
    private var inverseDeviation: [Float] = []   // 1/√(variance + eps) per channel, same pass
    private var savedShape: [Int]?               // set by a training-mode forward

    /// Creates the layer for `numFeatures` channels with PyTorch's defaults (eps 1e-5, momentum 0.1).
    public init(_ numFeatures: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        precondition(numFeatures > 0, "BatchNorm2d needs a positive number of channels, got \(numFeatures)")
        self.numFeatures = numFeatures
        self.eps = eps
        self.momentum = momentum
    }

    public var parameterSpecs: [ParameterSpec] {
        [
            ParameterSpec("weight", [numFeatures]),
            ParameterSpec("bias", [numFeatures]),
            .buffer("running_mean", [numFeatures]),
            .buffer("running_var", [numFeatures]),
            .buffer("num_batches_tracked", []),
        ]
    }

    public func bind(_ slots: [ParameterSlot]) {
        storageOwner = slots[0].owner
        weight = slots[0].value
        weightGradient = slots[0].gradient
        bias = slots[1].value
        biasGradient = slots[1].gradient
        runningMean = slots[2].value
        runningVariance = slots[3].value
        batchesTracked = slots[4].value
    }

    /// PyTorch's defaults: weight 1, bias 0, running mean 0, running variance 1, no batches tracked.
    public func resetParameters(using generator: inout SeededGenerator) {
        weight!.update(repeating: 1, count: numFeatures)
        bias!.update(repeating: 0, count: numFeatures)
        runningMean!.update(repeating: 0, count: numFeatures)
        runningVariance!.update(repeating: 1, count: numFeatures)
        batchesTracked!.pointee = 0
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        precondition(input.shape.count == 4 && input.shape[1] == numFeatures,
                     "BatchNorm2d expects [batch, \(numFeatures), height, width], got \(input.shape)")
        output.resize(to: input.shape)
        let batch = input.shape[0], plane = input.shape[2] * input.shape[3], channels = numFeatures
        let x = input.data, y = output.data, w = weight!, b = bias!
        let mean = runningMean!, variance = runningVariance!
        guard mode == .training else {
            for c in 0..<channels {
                let scale = w[c] / (variance[c] + eps).squareRoot(), shift = b[c] - mean[c] * scale
                for sample in 0..<batch {
                    let offset = (sample * channels + c) * plane
                    for i in 0..<plane { y[offset + i] = x[offset + i] * scale + shift }
                }
            }
            savedShape = nil
            return output
        }
        let n = batch * plane
        precondition(n > 1, "BatchNorm2d: expected more than 1 value per channel when training, got input \(input.shape)")
        normalized.resize(to: input.shape)
        if inverseDeviation.count != channels { inverseDeviation = [Float](repeating: 0, count: channels) }
        let xHat = normalized.data, eps = eps, momentum = momentum
        inverseDeviation.withUnsafeMutableBufferPointer { inverse in
            let inverse = inverse.baseAddress!
            ComputePool.shared.forEachRange(channels, minimumPerThread: max(1, 32768 / n)) { range in
                for c in range {
                    var sum: Double = 0
                    for sample in 0..<batch {
                        let line = x + (sample * channels + c) * plane
                        for i in 0..<plane { sum += Double(line[i]) }
                    }
                    let batchMean = sum / Double(n)
                    var squares: Double = 0
                    for sample in 0..<batch {
                        let line = x + (sample * channels + c) * plane
                        for i in 0..<plane {
                            let d = Double(line[i]) - batchMean
                            squares += d * d
                        }
                    }
                    let batchVariance = squares / Double(n)
                    let inverseC = Float(1 / (batchVariance + Double(eps)).squareRoot())
                    inverse[c] = inverseC
                    let center = Float(batchMean), scale = w[c], shift = b[c]
                    for sample in 0..<batch {
                        let offset = (sample * channels + c) * plane
                        for i in 0..<plane {
                            let value = (x[offset + i] - center) * inverseC
                            xHat[offset + i] = value
                            y[offset + i] = value * scale + shift
                        }
                    }
                    mean[c] = (1 - momentum) * mean[c] + momentum * center
                    variance[c] = (1 - momentum) * variance[c] + momentum * Float(squares / Double(n - 1))
                }
            }
        }
        batchesTracked!.pointee += 1
        savedShape = input.shape
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard let shape = savedShape else { preconditionFailure("BatchNorm2d.backward without a training-mode forward") }
        let batch = shape[0], plane = shape[2] * shape[3], channels = numFeatures, n = batch * plane
        precondition(outputGradient.count == batch * channels * plane,
                     "BatchNorm2d: output gradient has shape \(outputGradient.shape), expected \(shape)")
        if needsInputGradient { inputGradient.resize(to: shape) }
        let dy = outputGradient.data, dx = inputGradient.data, xHat = normalized.data
        let w = weight!, dw = weightGradient!, db = biasGradient!
        inverseDeviation.withUnsafeBufferPointer { inverse in
            let inverse = inverse.baseAddress!
            ComputePool.shared.forEachRange(channels, minimumPerThread: max(1, 32768 / n)) { range in
                for c in range {
                    var sumGradient: Double = 0, sumProduct: Double = 0
                    for sample in 0..<batch {
                        let offset = (sample * channels + c) * plane
                        for i in 0..<plane {
                            sumGradient += Double(dy[offset + i])
                            sumProduct += Double(dy[offset + i]) * Double(xHat[offset + i])
                        }
                    }
                    dw[c] += Float(sumProduct)
                    db[c] += Float(sumGradient)
                    guard needsInputGradient else { continue }
                    // ∂x = weight/σ · (∂y − mean(∂y) − x̂·mean(∂y·x̂))
                    let scale = w[c] * inverse[c]
                    let meanGradient = Float(sumGradient / Double(n)), meanProduct = Float(sumProduct / Double(n))
                    for sample in 0..<batch {
                        let offset = (sample * channels + c) * plane
                        for i in 0..<plane {
                            dx[offset + i] = scale * (dy[offset + i] - meanGradient - xHat[offset + i] * meanProduct)
                        }
                    }
                }
            }
        }
        return needsInputGradient ? inputGradient : nil
    }
}
