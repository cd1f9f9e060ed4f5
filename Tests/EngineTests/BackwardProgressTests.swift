import Testing
@testable import Engine

/// `Model.backward(_:finalFrom:)`: the offsets it reports while backward runs, and that each range is
/// final when reported (what a worker sends ahead of its push in an overlap run).
@Suite("Backward progress", .blocking)
struct BackwardProgressTests {
    /// One training pass with a seeded output gradient; the reported offsets, the gradients each report
    /// said were final as they were at that moment, and the gradients at the end.
    func pass(_ model: Model, input shape: [Int], reporting: Bool) -> (offsets: [Int], snapshots: [[Float]], final: [Float]) {
        let count = shape.reduce(1, *)
        let output = model.forward(Tensor(shape: shape, values: randomFloats(count, in: -1...1, seed: 11)), mode: .training)
        let gradient = Tensor(shape: output.shape, values: randomFloats(output.count, in: -1...1, seed: 12))
        model.zeroGradients()
        var offsets: [Int] = [], snapshots: [[Float]] = []
        if reporting {
            model.backward(gradient) { offset in
                offsets.append(offset)
                snapshots.append(Array(model.gradients[offset...]))
            }
        } else {
            model.backward(gradient)
        }
        return (offsets, snapshots, model.gradientValues)
    }

    @Test(arguments: ["mlp", "cnn", "batchnorm"])
    func eachReportedRangeIsFinalAndTheGradientsAreUnchanged(_ name: String) {
        let layers: () -> Sequential, shape: [Int]
        switch name {
        case "mlp": (layers, shape) = ({ Models.mlp() }, [8, 784])
        case "cnn": (layers, shape) = ({ Models.cnn() }, [2, 3, 32, 32])
        default:
            // A buffer (running statistics) between parameters: offsets count parameters only.
            (layers, shape) = ({ Sequential([("conv", Conv2d(3, 4, kernelSize: 3)), ("bn", BatchNorm2d(4)), ("flatten", Flatten()),
                                              ("fc", Linear(4 * 6 * 6, 3))]) }, [2, 3, 8, 8])
        }
        let plain = pass(Model(layers(), seed: 5), input: shape, reporting: false)
        let model = Model(layers(), seed: 5)
        let reported = pass(model, input: shape, reporting: true)
        #expect(reported.final == plain.final, "reporting changes no gradient")
        #expect(reported.offsets.last == 0, "the last report covers every gradient: \(reported.offsets)")
        #expect(zip(reported.offsets, reported.offsets.dropFirst()).allSatisfy { $0 >= $1 }, "last layer first: \(reported.offsets)")
        // Each layer with parameters reports where its parameters begin.
        let starts = Set(model.views.filter { $0.name.hasSuffix(".weight") }.map(\.offset))
        #expect(starts.isSubset(of: Set(reported.offsets)), "\(starts) among \(reported.offsets)")
        for (offset, snapshot) in zip(reported.offsets, reported.snapshots) {
            #expect(snapshot == Array(reported.final[offset...]), "the gradients from \(offset) on changed after they were reported final")
        }
    }

    @Test func aRootThatIsNotSequentialReportsOnceAtTheEnd() {
        let model = Model(Linear(4, 3), seed: 1)
        _ = model.forward(Tensor(shape: [2, 4], values: randomFloats(8, in: -1...1, seed: 2)), mode: .training)
        var offsets: [Int] = []
        model.backward(Tensor(shape: [2, 3], values: randomFloats(6, in: -1...1, seed: 3))) { offsets.append($0) }
        #expect(offsets == [0])
    }
}
