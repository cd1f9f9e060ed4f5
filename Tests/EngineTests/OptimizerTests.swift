import Testing
import TestSupport
@testable import Engine

/// SGD and Adam variants against PyTorch's optim.SGD / optim.Adam (Fixtures/optimizers.json):
/// 6 parameters, 4 steps with given gradients, the parameters compared after every step.
@Suite("Optimizers (PyTorch)", .blocking)
struct OptimizerTests {
    struct Fixture: Decodable {
        var cases: [Case]
    }

    struct Case: Decodable, CustomTestStringConvertible {
        var name: String
        var optimizer: String
        var lr: Double
        var momentum: Double?
        var dampening: Double?
        var weightDecay: Double
        var nesterov: Bool?
        var betas: [Double]?
        var eps: Double?
        var initial: [Double]
        var gradients: [[Double]]
        var expected: [[Double]]

        var testDescription: String { name }

        func makeOptimizer(parameterCount: Int) -> any Optimizer {
            if optimizer == "sgd" {
                return SGD(parameterCount: parameterCount, learningRate: Float(lr), momentum: Float(momentum ?? 0),
                           dampening: Float(dampening ?? 0), weightDecay: Float(weightDecay), nesterov: nesterov ?? false)
            }
            let betas = betas ?? [0.9, 0.999]
            return Adam(parameterCount: parameterCount, learningRate: Float(lr), beta1: Float(betas[0]),
                        beta2: Float(betas[1]), epsilon: Float(eps ?? 1e-8), weightDecay: Float(weightDecay))
        }
    }

    static let cases: [Case] = (try? loadJSONFixture("optimizers.json", as: Fixture.self).cases) ?? []

    @Test func fixtureHasEveryVariant() {
        #expect(Self.cases.map(\.name) == [
            "sgd_momentum_dampening", "sgd_nesterov_weight_decay", "sgd_plain_weight_decay",
            "adam_weight_decay", "adam_betas_eps",
        ])
    }

    @Test(arguments: cases)
    func matchesPyTorchAfterEveryStep(_ fixture: Case) {
        var parameters = floats(fixture.initial)
        let optimizer = fixture.makeOptimizer(parameterCount: parameters.count)
        for (step, (gradient, expected)) in zip(fixture.gradients, fixture.expected).enumerated() {
            let gradients = floats(gradient)
            parameters.withUnsafeMutableBufferPointer { p in
                gradients.withUnsafeBufferPointer { g in optimizer.step(parameters: p, gradients: g) }
            }
            let difference = maxAbsDifference(parameters, floats(expected))
            reportDifference("\(fixture.name) step \(step + 1) max abs diff", difference)
            #expect(difference <= 1e-6, "\(fixture.name) step \(step + 1): max abs diff \(difference)")
        }
        #expect(optimizer.stepCount == fixture.gradients.count)
        // The run must have moved the parameters well beyond the tolerance.
        #expect(maxAbsDifference(parameters, floats(fixture.initial)) > 1e-3)
    }

    @Test func sgdFirstMomentumStepIsTheGradient() {
        // PyTorch starts the buffer at g (not (1 − τ)g), so dampening does not affect step 1.
        var p: [Float] = [1, -2]
        let g: [Float] = [0.5, 0.25]
        let sgd = SGD(parameterCount: 2, learningRate: 0.1, momentum: 0.9, dampening: 0.5)
        p.withUnsafeMutableBufferPointer { p in g.withUnsafeBufferPointer { sgd.step(parameters: p, gradients: $0) } }
        #expect(p == [1 - 0.1 * 0.5, -2 - 0.1 * 0.25])
        #expect(sgd.velocity == g)
    }

    @Test func stepsAModelThroughItsFlatBuffers() {
        let model = Model(Models.perceptron(inputs: 3, outputs: 2), seed: 1)
        let before = model.parameterValues
        for i in 0..<model.parameterCount { model.gradients[i] = Float(i + 1) }
        SGD(parameterCount: model.parameterCount, learningRate: 0.5).step(model)
        let after = model.parameterValues
        for i in 0..<after.count {
            #expect(after[i] == before[i] - 0.5 * Float(i + 1))
        }
    }

    /// Stepping from one buffer into another gives the in-place step's values bit for bit, over
    /// several steps, and leaves the source untouched (every variant; Adam uses the copying default).
    @Test(arguments: cases)
    func steppingIntoAnotherBufferEqualsSteppingInPlace(_ fixture: Case) {
        let count = 1_003  // not a multiple of the vector width
        let inPlace = fixture.makeOptimizer(parameterCount: count), fromInto = fixture.makeOptimizer(parameterCount: count)
        var a = (0..<count).map { Float($0 % 17) * 0.1 - 0.8 }
        var b = a
        for step in 0..<4 {
            let g = (0..<count).map { Float(($0 * 7 + step) % 13) * 0.05 - 0.3 }
            a.withUnsafeMutableBufferPointer { p in g.withUnsafeBufferPointer { inPlace.step(parameters: p, gradients: $0) } }
            let source = b
            var next = [Float](repeating: .nan, count: count)
            source.withUnsafeBufferPointer { current in
                next.withUnsafeMutableBufferPointer { target in
                    g.withUnsafeBufferPointer { fromInto.step(from: current, into: target, gradients: $0) }
                }
            }
            #expect(source == b, "the source must not change")
            b = next
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(fixture.name) step \(step + 1)")
        }
    }
}
