/// Zeroes each element with probability `p` in training mode and scales the others by 1/(1 − p),
/// PyTorch's `Dropout`; evaluation mode returns the input unchanged.
///
/// The masks come from the layer's own seeded generator, so a run is reproducible, but they are not
/// PyTorch's (a different generator). Without an explicit `seed`, `Model` seeds it from its own seed.
public final class Dropout: Layer {
    /// The probability that an element is zeroed.
    public let p: Float
    private let seed: UInt64?
    private var generator: SeededGenerator
    private let output = Tensor()
    private let inputGradient = Tensor()
    private let mask = Tensor()        // 0 or 1/(1 − p) per element, from the last training-mode forward
    private var savedCount: Int?       // set by a training-mode forward
    /// Whether training-mode passes reuse the last mask instead of drawing a new one (for gradient checks).
    var holdsMask = false

    /// Creates the layer; `seed` fixes its masks, otherwise the model's seed does.
    public init(_ p: Float = 0.5, seed: UInt64? = nil) {
        precondition(p >= 0 && p <= 1, "Dropout probability has to be between 0 and 1, but got \(p)")
        self.p = p
        self.seed = seed
        generator = SeededGenerator(seed: seed ?? 0)
    }

    /// Seeds the mask generator from the model's generator unless the layer was given a seed.
    public func resetParameters(using generator: inout SeededGenerator) {
        if seed == nil { self.generator = SeededGenerator(seed: generator.next()) }
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        guard mode == .training else {
            savedCount = nil
            return input
        }
        let count = input.count
        if !(holdsMask && mask.count == count) {
            mask.resize(to: input.shape)
            let m = mask.data, p = p
            let kept: Float = p < 1 ? 1 / (1 - p) : 0
            for i in 0..<count { m[i] = generator.nextUnitFloat() < p ? 0 : kept }
        }
        output.resize(to: input.shape)
        let x = input.data, y = output.data, m = mask.data
        for i in 0..<count { y[i] = x[i] * m[i] }
        savedCount = count
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard let count = savedCount else { preconditionFailure("Dropout.backward without a training-mode forward") }
        guard needsInputGradient else { return nil }
        precondition(outputGradient.count == count,
                     "Dropout: output gradient has shape \(outputGradient.shape), expected \(mask.shape)")
        inputGradient.resize(to: outputGradient.shape)
        let dy = outputGradient.data, dx = inputGradient.data, m = mask.data
        for i in 0..<count { dx[i] = dy[i] * m[i] }
        return inputGradient
    }
}
