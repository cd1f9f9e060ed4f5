/// The maximum over each window (PyTorch's `MaxPool2d`, stride defaulting to the kernel size).
public final class MaxPool2d: Layer {
    let window: SlidingWindow
    private let output = Tensor()
    private let inputGradient = Tensor()
    /// The flat index inside its input plane of each output's maximum.
    private var argmax = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private var argmaxCapacity = 1
    private var inputShape: [Int] = []
    private var rectified = false
    private var training = false

    /// Creates the layer; `stride` defaults to `kernelSize`, padding counts as −∞.
    public init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        window = SlidingWindow(poolKernel: kernelSize, stride: stride, padding: padding)
    }

    deinit { argmax.deallocate() }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        forward(input, mode: mode, rectified: false)
    }

    /// The pooled input, or with `rectified` the pooled ReLU of the input: max(0, ·) commutes with the
    /// maximum, so ReLU → MaxPool2d costs one pass over the input instead of three (`Sequential` fuses it).
    /// `backward` then returns the gradient w.r.t. the ReLU's input.
    public func forward(_ input: Tensor, mode: Mode, rectified: Bool) -> Tensor {
        let output = prepare(inputShape: input.shape, mode: mode, rectified: rectified)
        let planes = output.shape[0] * output.shape[1], planeIn = input.shape[2] * input.shape[3]
        let x = input.data
        // Planes are independent: each thread takes a run of them.
        ComputePool.shared.forEachRange(planes, minimumPerThread: max(1, 32768 / max(planeIn, 1))) { run in
            self.pool(planes: run, from: x + run.lowerBound * planeIn)
        }
        return output
    }

    /// Sizes the output for an input of `shape` and returns it, to be filled plane by plane with
    /// `pool(planes:from:)` (a layer that computes its output a sample at a time pools each sample
    /// while it is in cache, as `Conv2d` does).
    func prepare(inputShape shape: [Int], mode: Mode, rectified: Bool) -> Tensor {
        self.rectified = rectified
        training = mode == .training
        output.resize(to: window.outputShape(shape, layer: "MaxPool2d"))
        inputShape = shape
        if argmaxCapacity < output.count {
            argmax.deallocate()
            argmax = .allocate(capacity: output.count)
            argmaxCapacity = output.count
        }
        return output
    }

    /// The number of elements of the last forward pass's output.
    var outputCount: Int { output.count }

    /// Pools the input planes `planes` (plane indices over the whole batch) read from `x`, which
    /// points at the first of them, into the output `prepare` sized.
    func pool(planes: Range<Int>, from x: UnsafePointer<Float>) {
        let height = inputShape[2], width = inputShape[3], outHeight = output.shape[2], outWidth = output.shape[3]
        let planeIn = height * width, planeOut = outHeight * outWidth
        let floor: Float = rectified ? 0 : -.infinity
        let y = output.data + planes.lowerBound * planeOut, indices = argmax + planes.lowerBound * planeOut
        let w = window
        // The 2×2 fast path always records the argmax: a branch-free loop is faster than a test per
        // window. Planes holding a NaN take the general path so that NaN propagates.
        if w.kernel == (2, 2) && w.stride == (2, 2) && w.padding == (0, 0) && !containsNaN(x, count: planes.count * planeIn) {
            MaxPool2d.forward2x2(x, y, indices, planes: planes.count, height: height, width: width,
                                 outHeight: outHeight, outWidth: outWidth, floor: floor)
            return
        }
        for plane in 0..<planes.count {
            let x = x + plane * planeIn, y = y + plane * planeOut
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
        precondition(outputGradient.count == output.count, "MaxPool2d.backward: gradient \(outputGradient.shape) for output \(output.shape)")
        inputGradient.resize(to: inputShape)
        let planes = output.shape[0] * output.shape[1], planeIn = inputShape[2] * inputShape[3]
        let dy = outputGradient.data, dx = inputGradient.data
        ComputePool.shared.forEachRange(planes, minimumPerThread: max(1, 32768 / max(planeIn, 1))) { run in
            self.unpool(planes: run, gradient: dy, into: dx + run.lowerBound * planeIn)
        }
        return inputGradient
    }

    /// Writes the gradient w.r.t. the input planes `planes` into `dx` (which points at the first of
    /// them), from `dy`, the gradient of the whole output: zeros, and each output's gradient at its
    /// maximum (with a fused ReLU, only where the pooled value is positive).
    func unpool(planes: Range<Int>, gradient dy: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        let planeIn = inputShape[2] * inputShape[3], planeOut = output.shape[2] * output.shape[3]
        dx.update(repeating: 0, count: planes.count * planeIn)
        for plane in planes {
            let dx = dx + (plane - planes.lowerBound) * planeIn, dy = dy + plane * planeOut
            let y = output.data + plane * planeOut, index = argmax + plane * planeOut
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
