import Foundation

/// max(0, x), element-wise.
public final class ReLU: Layer {
    private let output = Tensor()
    private let inputGradient = Tensor()

    /// Creates the activation.
    public init() {}

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        output.resize(to: input.shape)
        let x = input.data, y = output.data
        ComputePool.shared.forEachRange(input.count, minimumPerThread: 65536) { range in
            for i in range { y[i] = max(x[i], 0) }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        inputGradient.resize(to: output.shape)
        let y = output.data, dy = outputGradient.data, dx = inputGradient.data
        ComputePool.shared.forEachRange(output.count, minimumPerThread: 65536) { range in
            for i in range {
                // Loading dy unconditionally lets the compiler emit a branch-free select: with a
                // conditional load the loop branches on the sign and mispredicts half the time.
                let gradient = dy[i]
                dx[i] = y[i] > 0 ? gradient : 0
            }
        }
        return inputGradient
    }
}

/// 1 / (1 + e^−x), element-wise.
public final class Sigmoid: Layer {
    private let output = Tensor()
    private let inputGradient = Tensor()

    /// Creates the activation.
    public init() {}

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        output.resize(to: input.shape)
        let x = input.data, y = output.data
        for i in 0..<input.count { y[i] = Sigmoid.value(x[i]) }
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        inputGradient.resize(to: output.shape)
        let y = output.data, dy = outputGradient.data, dx = inputGradient.data
        for i in 0..<output.count { dx[i] = dy[i] * y[i] * (1 - y[i]) }
        return inputGradient
    }

    /// The logistic function, computed without overflow for large |x|.
    @inline(__always) public static func value(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + expf(-x)) }
        let e = expf(x)
        return e / (1 + e)
    }
}

/// The hyperbolic tangent, element-wise.
public final class Tanh: Layer {
    private let output = Tensor()
    private let inputGradient = Tensor()

    /// Creates the activation.
    public init() {}

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        output.resize(to: input.shape)
        let x = input.data, y = output.data
        for i in 0..<input.count { y[i] = tanhf(x[i]) }
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        inputGradient.resize(to: output.shape)
        let y = output.data, dy = outputGradient.data, dx = inputGradient.data
        for i in 0..<output.count { dx[i] = dy[i] * (1 - y[i] * y[i]) }
        return inputGradient
    }
}

/// Softmax over the last dimension (PyTorch's `Softmax(dim=-1)`), shifted by the row maximum for stability.
public final class Softmax: Layer {
    private let output = Tensor()
    private let inputGradient = Tensor()

    /// Creates the activation.
    public init() {}

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        output.resize(to: input.shape)
        let width = input.shape.last ?? 1
        let rows = width == 0 ? 0 : input.count / width
        for r in 0..<rows {
            SoftmaxRow.write(input.data + r * width, into: output.data + r * width, count: width)
        }
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        inputGradient.resize(to: output.shape)
        let width = output.shape.last ?? 1
        let rows = width == 0 ? 0 : output.count / width
        for r in 0..<rows {
            let y = output.data + r * width, dy = outputGradient.data + r * width, dx = inputGradient.data + r * width
            var dot: Float = 0
            for j in 0..<width { dot += dy[j] * y[j] }
            for j in 0..<width { dx[j] = y[j] * (dy[j] - dot) }
        }
        return inputGradient
    }
}
