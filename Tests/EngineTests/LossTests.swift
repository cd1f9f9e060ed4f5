import Testing
import TestSupport
@testable import Engine

/// MSELoss, CrossEntropyLoss, BCELoss and BCEWithLogitsLoss against PyTorch (Fixtures/losses.json):
/// the loss and its gradient w.r.t. the input, including large logits and probabilities at 0 and 1.
@Suite("Losses (PyTorch)", .blocking)
struct LossTests {
    struct Fixture: Decodable {
        var cases: [Case]
    }

    struct Case: Decodable, CustomTestStringConvertible {
        var name: String
        var loss: String
        var shape: [Int]
        var input: [Double]
        var target: [Double]?
        var labels: [Int32]?
        var value: Double
        var inputGradient: [Double]

        var testDescription: String { name }

        /// The engine's loss value and input gradient for this case.
        func evaluate() -> (value: Float, gradient: [Float]) {
            let input = Tensor(shape: shape, values: floats(self.input))
            let target = Tensor(shape: shape, values: floats(self.target ?? Array(repeating: 0, count: self.input.count)))
            switch loss {
            case "mse":
                let loss = MSELoss()
                return (loss.forward(input, target: target), loss.backward().scalars)
            case "cross_entropy":
                let loss = CrossEntropyLoss()
                return (loss.forward(input, labels: labels ?? []), loss.backward().scalars)
            case "bce":
                let loss = BCELoss()
                return (loss.forward(input, target: target), loss.backward().scalars)
            default:
                let loss = BCEWithLogitsLoss()
                return (loss.forward(input, target: target), loss.backward().scalars)
            }
        }
    }

    static let cases: [Case] = (try? loadJSONFixture("losses.json", as: Fixture.self).cases) ?? []

    @Test func fixtureHasEveryCase() {
        #expect(Self.cases.map(\.name) == [
            "mse", "cross_entropy", "cross_entropy_large_logits", "bce_clamped", "bce", "bce_with_logits_large",
        ])
    }

    @Test(arguments: cases)
    func matchesPyTorch(_ fixture: Case) {
        let (value, gradient) = fixture.evaluate()
        let expected = Float(fixture.value)
        reportDifference("\(fixture.name) loss abs diff", abs(value - expected))
        reportDifference("\(fixture.name) gradient max abs diff", maxAbsDifference(gradient, floats(fixture.inputGradient)))
        #expect(value.isFinite)
        #expect(abs(value - expected) <= 1e-6 * max(1, abs(expected)), "\(fixture.name): loss \(value), expected \(expected)")
        expectElementsClose(gradient, floats(fixture.inputGradient), relative: 1e-5, absolute: 1e-7,
                            "\(fixture.name) input gradient")
    }

    @Test func crossEntropyOfHugeLogitsIsFinite() {
        let loss = CrossEntropyLoss()
        let value = loss.forward(Tensor(shape: [1, 3], values: [1e30, -1e30, 0]), labels: [1])
        #expect(value == 2e30)
        #expect(loss.backward().scalars == [1, -1, 0])
    }

    @Test func bceClampsTheLogAtMinus100() {
        let loss = BCELoss()
        #expect(loss.forward(Tensor(shape: [2], values: [0, 1]), target: Tensor(shape: [2], values: [1, 0])) == 100)
        #expect(loss.forward(Tensor(shape: [2], values: [0, 1]), target: Tensor(shape: [2], values: [0, 1])) == 0)
    }

    @Test func emptyBatchGivesZeroLoss() {
        #expect(MSELoss().forward(Tensor(zeros: [0, 3]), target: Tensor(zeros: [0, 3])) == 0)
        #expect(CrossEntropyLoss().forward(Tensor(zeros: [0, 3]), labels: []) == 0)
    }

    @Test func correctPredictionsTakeTheFirstMaximum() {
        let logits = Tensor(shape: [3, 3], values: [1, 5, 5,  // tie: index 1 wins
                                                    9, 2, 3,
                                                    0, 0, -1])
        #expect(logits.correctPredictions(labels: [1, 0, 0]) == 3)
        #expect(logits.correctPredictions(labels: [2, 0, 1]) == 1)
        #expect(Criterion(.classification).correctPredictions(logits, labels: [1, 1, 0]) == 2)
        let binary = Tensor(shape: [4, 1], values: [0.5, -0.5, 2, 0])
        #expect(Criterion(.binaryClassification).correctPredictions(binary, labels: [1, 0, 0, 0]) == 3)
        #expect(Criterion(.regression).correctPredictions(binary, labels: [1, 0, 0, 0]) == 0)
    }
}
