/// The maximum over each window (PyTorch's `MaxPool2d`, stride defaulting to the kernel size).
public final class MaxPool2d: Layer {
    let window: SlidingWindow
    private let output = Tensor()
    private let inputGradient = Tensor()
    private var argmax: [Int32] = []
    private var inputShape: [Int] = []
    private var rectified = false

    /// Creates the layer; `stride` defaults to `kernelSize`, padding counts as −∞.
    public init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        window = SlidingWindow(poolKernel: kernelSize, stride: stride, padding: padding)
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        forward(input, mode: mode, rectified: false)
    }

    /// The pooled input, or with `rectified` the pooled ReLU of the input: max(0, ·) commutes with the
    /// maximum, so ReLU → MaxPool2d costs one pass over the input instead of three (`Sequential` fuses it).
    /// `backward` then returns the gradient w.r.t. the ReLU's input.
    public func forward(_ input: Tensor, mode: Mode, rectified: Bool) -> Tensor {
        self.rectified = rectified
        let floor: Float = rectified ? 0 : -.infinity
        let shape = window.outputShape(input.shape, layer: "MaxPool2d")
        output.resize(to: shape)
        inputShape = input.shape
        let planes = shape[0] * shape[1], height = input.shape[2], width = input.shape[3]
        let outHeight = shape[2], outWidth = shape[3]
        let training = mode == .training
        // The 2×2 fast path always records the argmax: a branch-free loop is faster than a test per window.
        if argmax.count < output.count { argmax = [Int32](repeating: 0, count: output.count) }
        let w = window
        let x = input.data, y = output.data
        let fast = w.kernel == (2, 2) && w.stride == (2, 2) && w.padding == (0, 0)
        argmax.withUnsafeMutableBufferPointer { buffer in
            let indices = buffer.baseAddress!
            // Planes are independent: each thread takes a run of them, and a run holding a NaN takes
            // the general path so that NaN propagates.
            ComputePool.shared.forEachRange(planes, minimumPerThread: max(1, 32768 / max(height * width, 1))) { run in
                let planeIn = height * width, planeOut = outHeight * outWidth
                if fast && !containsNaN(x + run.lowerBound * planeIn, count: run.count * planeIn) {
                    MaxPool2d.forward2x2(x + run.lowerBound * planeIn, y + run.lowerBound * planeOut,
                                         indices + run.lowerBound * planeOut, planes: run.count, height: height, width: width,
                                         outHeight: outHeight, outWidth: outWidth, floor: floor)
                    return
                }
                for plane in run {
                    let x = x + plane * planeIn
                    let y = y + plane * planeOut
                    for oy in 0..<outHeight {
                        let y0 = oy * w.stride.height - w.padding.height
                        for ox in 0..<outWidth {
                            let x0 = ox * w.stride.width - w.padding.width
                            var best = -Float.infinity, bestIndex = -1
                            for iy in max(y0, 0)..<min(y0 + w.kernel.height, height) {
                                for ix in max(x0, 0)..<min(x0 + w.kernel.width, width) {
                                    let value = x[iy * width + ix]
                                    if value > best || bestIndex < 0 || value.isNaN {
                                        best = value
                                        bestIndex = iy * width + ix
                                    }
                                }
                            }
                            // max(best, floor) would lose a NaN; NaN passes ReLU as it does in PyTorch.
                            y[oy * outWidth + ox] = best < floor ? floor : best
                            if training { indices[plane * planeOut + oy * outWidth + ox] = Int32(bestIndex) }
                        }
                    }
                }
            }
        }
        return output
    }

    /// The tutorial's 2×2, stride-2 window as a branch-free, vectorisable loop: which of four values
    /// is largest is as good as random, so a branch would mispredict, and index arithmetic wraps
    /// (`&+`, `&*`) because overflow checks stop the compiler from vectorising. Outputs below `floor`
    /// become `floor` (0 for a fused ReLU, −∞ otherwise).
    private static func forward2x2(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                   _ indices: UnsafeMutablePointer<Int32>, planes: Int, height: Int, width: Int,
                                   outHeight: Int, outWidth: Int, floor: Float) {
        // `later` replaces `earlier` only when larger, so the first maximum in scan order wins. NaN
        // is not handled here (a test for it stops vectorisation): callers take the general path
        // when the input holds a NaN.
        @inline(__always) func replaces(_ later: Float, _ earlier: Float) -> Bool { later > earlier }
        let rowStep = Int32(width)
        for plane in 0..<planes {
            let xPlane = x + plane &* height &* width, yPlane = y + plane &* outHeight &* outWidth
            let iPlane = indices + plane &* outHeight &* outWidth
            for oy in 0..<outHeight {
                let top = Int32(truncatingIfNeeded: 2 &* oy &* width)
                let row0 = xPlane + Int(top), row1 = row0 + width
                let yRow = yPlane + oy &* outWidth
                for ox in 0..<outWidth {
                    let a = row0[2 &* ox], b = row0[2 &* ox &+ 1], c = row1[2 &* ox], d = row1[2 &* ox &+ 1]
                    let upperTakesB = replaces(b, a), lowerTakesD = replaces(d, c)
                    let upper = upperTakesB ? b : a, lower = lowerTakesD ? d : c
                    let lowerWins = replaces(lower, upper)
                    let best = lowerWins ? lower : upper
                    yRow[ox] = best < floor ? floor : best
                    let upperIndex: Int32 = upperTakesB ? 1 : 0, lowerIndex: Int32 = lowerTakesD ? rowStep &+ 1 : rowStep
                    iPlane[oy &* outWidth &+ ox] = top &+ Int32(truncatingIfNeeded: 2 &* ox) &+ (lowerWins ? lowerIndex : upperIndex)
                }
            }
        }
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        inputGradient.resize(to: inputShape)
        let height = inputShape[2], width = inputShape[3], outHeight = output.shape[2], outWidth = output.shape[3]
        let planeIn = height * width, planeOut = outHeight * outWidth
        let gradientIn = inputGradient.data, gradientOut = outputGradient.data, pooled = output.data
        let rectified = rectified
        inputGradient.zero()
        argmax.withUnsafeBufferPointer { indices in
            let planes = output.shape[0] * output.shape[1]
            ComputePool.shared.forEachRange(planes, minimumPerThread: max(1, 32768 / max(planeIn, 1))) { run in
                for plane in run {
                    let dx = gradientIn + plane * planeIn, dy = gradientOut + plane * planeOut
                    let y = pooled + plane * planeOut, index = indices.baseAddress! + plane * planeOut
                    if rectified {
                        // ReLU passes the gradient where its output (the pooled value) is positive.
                        for o in 0..<planeOut {
                            let gradient = dy[o]
                            dx[Int(index[o])] += y[o] > 0 ? gradient : 0
                        }
                    } else {
                        for o in 0..<planeOut { dx[Int(index[o])] += dy[o] }
                    }
                }
            }
        }
        return inputGradient
    }
}

/// The mean over each window (PyTorch's `AvgPool2d` with `count_include_pad=True`).
public final class AvgPool2d: Layer {
    let window: SlidingWindow
    private let output = Tensor()
    private let inputGradient = Tensor()
    private var inputShape: [Int] = []

    /// Creates the layer; `stride` defaults to `kernelSize`, padding counts as zeros in the mean.
    public init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        window = SlidingWindow(poolKernel: kernelSize, stride: stride, padding: padding)
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        let shape = window.outputShape(input.shape, layer: "AvgPool2d")
        output.resize(to: shape)
        inputShape = input.shape
        let w = window, height = input.shape[2], width = input.shape[3], outHeight = shape[2], outWidth = shape[3]
        let scale = 1 / Float(w.kernel.height * w.kernel.width)
        for plane in 0..<shape[0] * shape[1] {
            let x = input.data + plane * height * width, y = output.data + plane * outHeight * outWidth
            for oy in 0..<outHeight {
                let y0 = oy * w.stride.height - w.padding.height
                for ox in 0..<outWidth {
                    let x0 = ox * w.stride.width - w.padding.width
                    var sum: Float = 0
                    for iy in max(y0, 0)..<min(y0 + w.kernel.height, height) {
                        for ix in max(x0, 0)..<min(x0 + w.kernel.width, width) { sum += x[iy * width + ix] }
                    }
                    y[oy * outWidth + ox] = sum * scale
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        inputGradient.resize(to: inputShape)
        inputGradient.zero()
        let w = window, height = inputShape[2], width = inputShape[3]
        let outHeight = output.shape[2], outWidth = output.shape[3]
        let scale = 1 / Float(w.kernel.height * w.kernel.width)
        for plane in 0..<output.shape[0] * output.shape[1] {
            let dx = inputGradient.data + plane * height * width, dy = outputGradient.data + plane * outHeight * outWidth
            for oy in 0..<outHeight {
                let y0 = oy * w.stride.height - w.padding.height
                for ox in 0..<outWidth {
                    let x0 = ox * w.stride.width - w.padding.width
                    let share = dy[oy * outWidth + ox] * scale
                    for iy in max(y0, 0)..<min(y0 + w.kernel.height, height) {
                        for ix in max(x0, 0)..<min(x0 + w.kernel.width, width) { dx[iy * width + ix] += share }
                    }
                }
            }
        }
        return inputGradient
    }
}
