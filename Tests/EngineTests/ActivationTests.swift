import Testing
import TestSupport
@testable import Engine

/// Softmax(dim=-1), Sigmoid, Tanh and ReLU against PyTorch (Fixtures/activations.json): the output and
/// the input gradient for a given upstream gradient, on rows that include 0 and large values.
@Suite("Activations (PyTorch)", .blocking)
struct ActivationTests {
    struct Fixture: Decodable {
        var cases: [Case]
    }

    struct Case: Decodable, CustomTestStringConvertible {
        var name: String
        var shape: [Int]
        var input: [Double]
        var upstreamGradient: [Double]
        var output: [Double]
        var inputGradient: [Double]

        var testDescription: String { name }

        func makeLayer() -> any Layer {
            switch name {
            case "softmax": Softmax()
            case "sigmoid": Sigmoid()
            case "tanh": Tanh()
            default: ReLU()
            }
        }
    }

    static let cases: [Case] = (try? loadJSONFixture("activations.json", as: Fixture.self).cases) ?? []

    @Test func fixtureHasEveryActivation() {
        #expect(Self.cases.map(\.name) == ["softmax", "sigmoid", "tanh", "relu"])
    }

    @Test(arguments: cases)
    func matchesPyTorch(_ fixture: Case) throws {
        let layer = fixture.makeLayer()
        let output = layer.forward(Tensor(shape: fixture.shape, values: floats(fixture.input)), mode: .training).scalars
        let upstream = Tensor(shape: fixture.shape, values: floats(fixture.upstreamGradient))
        let gradient = try #require(layer.backward(upstream, needsInputGradient: true)).scalars
        reportDifference("\(fixture.name) output max abs diff", maxAbsDifference(output, floats(fixture.output)))
        reportDifference("\(fixture.name) gradient max abs diff", maxAbsDifference(gradient, floats(fixture.inputGradient)))
        expectElementsClose(output, floats(fixture.output), relative: 1e-6, absolute: 1e-7, "\(fixture.name) output")
        expectElementsClose(gradient, floats(fixture.inputGradient), relative: 1e-5, absolute: 1e-7,
                            "\(fixture.name) input gradient")
    }

    @Test func softmaxRowsSumToOneForLargeInputs() {
        let output = Softmax().forward(Tensor(shape: [2, 3], values: [1000, 1001, 999, -1000, -1000, -1000]), mode: .training)
        #expect(output.scalars.allSatisfy { $0.isFinite })
        #expect(abs(output.scalars[0..<3].reduce(0, +) - 1) < 1e-6)
        #expect(output.scalars[3..<6].allSatisfy { abs($0 - 1.0 / 3) < 1e-6 })
    }

    @Test func sigmoidIsStableForLargeMagnitudes() {
        #expect(Sigmoid.value(100) == 1)
        #expect(Sigmoid.value(-100) > 0)
        #expect(Sigmoid.value(-100).isFinite)
        #expect(Sigmoid.value(0) == 0.5)
    }

    @Test func backwardWithoutInputGradientReturnsNil() {
        for layer in [ReLU(), Sigmoid(), Tanh(), Softmax()] as [any Layer] {
            _ = layer.forward(Tensor(shape: [1, 2], values: [1, 2]), mode: .training)
            #expect(layer.backward(Tensor(shape: [1, 2], values: [1, 1]), needsInputGradient: false) == nil)
        }
    }
}
