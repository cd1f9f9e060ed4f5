/// The `weight` and optional `bias` of `Linear` and `Conv2d`: their declarations, their binding to a
/// model's buffers, and PyTorch's default initialisation of both, uniform in ±1/√fan_in.
struct WeightAndBias {
    /// The weight's shape, outputs first; the bias has one element per output.
    let weightShape: [Int]
    /// Whether there is a bias.
    let hasBias: Bool
    private(set) var weight: UnsafeMutablePointer<Float>?
    private(set) var weightGradient: UnsafeMutablePointer<Float>?
    private(set) var bias: UnsafeMutablePointer<Float>?
    private(set) var biasGradient: UnsafeMutablePointer<Float>?
    private var owner: AnyObject?

    init(weightShape: [Int], bias: Bool) {
        self.weightShape = weightShape
        hasBias = bias
    }

    /// The weight's elements per output (a `Linear`'s inputs, a `Conv2d`'s in·kh·kw).
    var fanIn: Int { weightShape.dropFirst().reduce(1, *) }

    /// `weight`, then `bias` if there is one.
    var specs: [ParameterSpec] {
        let weight = ParameterSpec("weight", weightShape)
        return hasBias ? [weight, ParameterSpec("bias", [weightShape[0]])] : [weight]
    }

    mutating func bind(_ slots: [ParameterSlot]) {
        owner = slots[0].owner
        weight = slots[0].value
        weightGradient = slots[0].gradient
        if hasBias {
            bias = slots[1].value
            biasGradient = slots[1].gradient
        }
    }

    /// PyTorch's default (kaiming_uniform with a = √5 for the weight): weight and bias uniform in ±1/√fan_in.
    func reset(using generator: inout SeededGenerator) {
        let bound = fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0
        generator.fillUniform(weight!, count: weightShape.reduce(1, *), low: -bound, high: bound)
        if let bias { generator.fillUniform(bias, count: weightShape[0], low: -bound, high: bound) }
    }
}
