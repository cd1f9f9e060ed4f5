/// A kernel sliding over the height and width of [batch, channels, height, width] with a stride and
/// zero padding: the output-size arithmetic of `Conv2d` and the pooling layers.
struct SlidingWindow {
    let kernel: (height: Int, width: Int)
    let stride: (height: Int, width: Int)
    let padding: (height: Int, width: Int)

    init(kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)) {
        self.kernel = (kernel.0, kernel.1)
        self.stride = (stride.0, stride.1)
        self.padding = (padding.0, padding.1)
    }

    /// A pooling window: square, `stride` defaulting to the kernel size, padding at most half the kernel.
    init(poolKernel kernelSize: Int, stride: Int?, padding: Int) {
        precondition(kernelSize > 0 && (stride ?? 1) > 0 && padding >= 0 && padding <= kernelSize / 2,
                     "pooling needs a positive kernel and stride, and padding at most half the kernel")
        let step = stride ?? kernelSize
        self.init(kernel: (kernelSize, kernelSize), stride: (step, step), padding: (padding, padding))
    }

    /// The output height and width for an input's: ⌊(size + 2·padding − kernel) / stride⌋ + 1 each, as PyTorch's.
    func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height + 2 * padding.height - kernel.height) / stride.height + 1,
         (width + 2 * padding.width - kernel.width) / stride.width + 1)
    }

    /// The output shape [batch, channels, outH, outW] of a pooling layer named `layer`.
    func outputShape(_ input: [Int], layer: String) -> [Int] {
        precondition(input.count == 4, "\(layer) expects [batch, channels, height, width], got \(input)")
        let (height, width) = outputSize(height: input[2], width: input[3])
        precondition(height > 0 && width > 0, "\(layer): input \(input) is smaller than the window")
        return [input[0], input[1], height, width]
    }
}
