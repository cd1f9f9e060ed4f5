import Engine
import Foundation
import Testing
import TestSupport
@testable import Datasets

@Suite(.blocking) struct DataLoaderTests {
    /// Ten samples of three floats each, sample i holding (i, 10 + i, 20 + i), labelled i % 4.
    func numbered(_ count: Int = 10) -> LabeledDataset {
        var features: [Float] = []
        for i in 0..<count { features += [Float(i), Float(10 + i), Float(20 + i)] }
        return LabeledDataset(name: "numbered", sampleShape: [3], features: features,
                              labels: (0..<count).map { Int32($0 % 4) }, classCount: 4)
    }

    @Test func anEpochServesEverySampleOnceInBatches() {
        let loader = DataLoader(numbered(), batchSize: 4, shuffle: true, seed: 7)
        #expect(loader.batchesPerEpoch == 3)
        var seen: [Int] = [], sizes: [Int] = []
        for batch in loader.epoch(1) {
            sizes.append(batch.count)
            #expect(batch.inputs.shape == [batch.count, 3])
            for row in 0..<batch.count {
                let sample = Int(batch.inputs[row * 3])
                #expect(batch.inputs[row * 3 + 1] == Float(10 + sample))
                #expect(batch.labels[row] == Int32(sample % 4))
                #expect(batch.targets[row] == Float(sample % 4))
                seen.append(sample)
            }
        }
        #expect(sizes == [4, 4, 2])
        #expect(seen.sorted() == Array(0..<10))
    }

    @Test func shufflingIsSeededAndChangesPerEpoch() {
        func order(seed: UInt64, epoch: Int) -> [Float] {
            DataLoader(numbered(100), batchSize: 100, shuffle: true, seed: seed).epoch(epoch).first { _ in true }!.inputs.scalars
        }
        #expect(order(seed: 1, epoch: 1) == order(seed: 1, epoch: 1))
        #expect(order(seed: 1, epoch: 1) != order(seed: 1, epoch: 2))
        #expect(order(seed: 1, epoch: 1) != order(seed: 2, epoch: 1))
        #expect(DataLoader.order(count: 100, seed: 3, epoch: 4) == DataLoader.order(count: 100, seed: 3, epoch: 4))
    }

    @Test func withoutShufflingTheOrderIsTheFiles() {
        let loader = DataLoader(numbered(), batchSize: 3, shuffle: false)
        let firsts = loader.epoch(1).map { $0.inputs[0] }
        #expect(firsts == [0, 3, 6, 9])
    }

    @Test func xorIsTheFourPoints() {
        let xor = XORDataset.load()
        #expect(xor.count == 4)
        #expect(xor.features == [0, 0, 0, 1, 1, 0, 1, 1])
        #expect(xor.labels == [0, 1, 1, 0])
    }

    @Test func dataFolderSearchOrder() throws {
        let root = try TemporaryFolder()
        defer { root.remove() }
        try FileManager.default.createDirectory(atPath: root.file("mnist"), withIntermediateDirectories: true)
        #expect(try DatasetLocation.folder("mnist", dataDirectory: root.path) == root.file("mnist"))
        #expect(try DatasetLocation.folder("mnist", dataDirectory: nil, environment: ["TRAINER_DATA_DIR": root.path]) == root.file("mnist"))
        let error = #expect(throws: DatasetError.self) { try DatasetLocation.folder("cifar-10-batches-bin", dataDirectory: root.path) }
        #expect(error?.reason.contains("--data-dir") == true)
        let searched = #expect(throws: DatasetError.self) {
            try DatasetLocation.folder("no-such-set", dataDirectory: nil, environment: ["TRAINER_DATA_DIR": root.path])
        }
        #expect(searched?.reason.contains(root.path) == true)
        #expect(searched?.reason.contains("/usr/share/datasets") == true)
    }

    @Test func downloadsGoToTheFirstWritableRootButNeverTheSystemFolder() throws {
        let root = try TemporaryFolder()
        defer { root.remove() }
        #expect(DatasetLocation.downloadRoots(environment: ["TRAINER_DATA_DIR": root.path]) == [root.path, "./data"])
        #expect(DatasetLocation.writableRoot(environment: ["TRAINER_DATA_DIR": root.path]) == root.path)
        // Not there yet but creatable: chosen (created later by the download).
        #expect(DatasetLocation.writableRoot(environment: ["TRAINER_DATA_DIR": root.file("new")]) == root.file("new"))
        // Its parent missing too: skipped for ./data (the tests run in a writable folder).
        #expect(DatasetLocation.writableRoot(environment: ["TRAINER_DATA_DIR": root.file("a/b")]) == "./data")
        #expect(DatasetLocation.writableRoot(environment: [:]) == "./data")
    }

    @Test func evaluationCountsCorrectPredictions() {
        // A perceptron with weights chosen by hand: logits = (x0, −x0) → class 0 when x0 > 0.
        let model = Model(Models.perceptron(inputs: 1, outputs: 2))
        _ = model.parameters.update(from: [1, -1, 0, 0] as [Float])
        let set = LabeledDataset(name: "signs", sampleShape: [1], features: [1, 2, -1, -3, 5],
                                 labels: [0, 0, 1, 1, 1], classCount: 2)
        let result = model.evaluate(on: set, criterion: Criterion(.classification), batchSize: 2)
        #expect(result.count == 5)
        #expect(result.correct == 4)
        #expect(abs(result.accuracy - 0.8) < 1e-12)
    }
}
