import Testing
import TestSupport
@testable import Engine

/// Dropout: its masks' statistics, scaling and seeding, its backward with a fixed mask, and evaluation.
@Suite(.blocking) struct DropoutTests {
    @Test func trainingZeroesAboutPAndScalesTheRest() {
        let layer = Dropout(0.3, seed: 1)
        let count = 100_000
        let output = layer.forward(Tensor(shape: [100, 1000], values: [Float](repeating: 1, count: count)), mode: .training)
        let values = output.scalars
        let zeros = values.filter { $0 == 0 }.count
        // Binomial(100000, 0.3): standard deviation 145 elements; 1000 is about 7 of them.
        #expect(abs(zeros - 30_000) < 1000, "\(zeros) zeros of \(count)")
        let kept: Float = 1 / (1 - 0.3)
        #expect(values.allSatisfy { $0 == 0 || $0 == kept })
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(count)
        #expect(abs(mean - 1) < 0.02, "mean \(mean): scaling by 1/(1 − p) keeps the expectation")
    }

    @Test func masksAreSeededAndRedrawnEachPass() {
        let x = Tensor(shape: [4, 256], values: randomFloats(1024, in: 1...2, seed: 2))
        func twoPasses(_ layer: Dropout) -> ([Float], [Float]) {
            (layer.forward(x, mode: .training).scalars, layer.forward(x, mode: .training).scalars)
        }
        let (first, second) = twoPasses(Dropout(0.5, seed: 7))
        #expect(first != second)
        #expect(twoPasses(Dropout(0.5, seed: 7)) == (first, second))
        #expect(twoPasses(Dropout(0.5, seed: 8)).0 != first)
        // Without a seed the model's seed decides.
        func modelMask(seed: UInt64) -> [Float] { Model(Dropout(0.5), seed: seed).forward(x, mode: .training).scalars }
        #expect(modelMask(seed: 3) == modelMask(seed: 3))
        #expect(modelMask(seed: 3) != modelMask(seed: 4))
    }

    @Test func evaluationAndEdgeProbabilities() {
        let x = Tensor(shape: [3, 5], values: randomFloats(15, in: -1...1, seed: 4))
        #expect(Dropout(0.9).forward(x, mode: .evaluation).scalars == x.scalars)
        #expect(Dropout(0).forward(x, mode: .training).scalars == x.scalars)
        #expect(Dropout(1).forward(x, mode: .training).scalars.allSatisfy { $0 == 0 })
    }

    @Test func backwardUsesTheForwardMask() throws {
        let layer = Dropout(0.4, seed: 5)
        let x = Tensor(shape: [6, 50], values: randomFloats(300, in: 1...2, seed: 6))
        let output = layer.forward(x, mode: .training).scalars
        let upstream = randomFloats(300, in: -1...1, seed: 7)
        let gradient = try #require(layer.backward(Tensor(shape: [6, 50], values: upstream), needsInputGradient: true)).scalars
        for i in 0..<300 {
            let scale = output[i] / x[i]
            #expect(abs(gradient[i] - upstream[i] * scale) <= 1e-6 * abs(upstream[i] * scale), "element \(i)")
        }
        #expect(gradient.contains(0) && gradient.contains { $0 != 0 })
    }

    @Test func gradientCheckWithAFixedMask() {
        let layer = Dropout(0.5, seed: 9)
        layer.holdsMask = true
        let stack = Sequential([("fc", Linear(4, 6)), ("drop", layer), ("out", Linear(6, 3))])
        checkGradients(of: Model(stack, seed: 10), inputShape: [5, 4], input: randomFloats(20, in: -1...1, seed: 11),
                       "Linear → Dropout(0.5, fixed mask) → Linear")
    }
}
