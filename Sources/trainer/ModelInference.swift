import Datasets
import Engine

/// Finds which of `trainer`'s networks a checkpoint without a recorded model holds (a file PyTorch's
/// `save_file(model.state_dict(), …)` wrote, say): the one whose parameter names and shapes for the data set are
/// exactly the file's tensors.
enum ModelInference {
    /// The model kind whose layout on `train`'s shapes is `tensors`; throws a `CLIError` listing what the file holds
    /// and what each candidate expects when none matches.
    static func model(for tensors: [String: StoredTensor], order: [String], file: String,
                      dataset: DatasetKind, train: LabeledDataset, test: LabeledDataset) throws -> ModelKind {
        let found = Dictionary(uniqueKeysWithValues: tensors.map { ($0.key, $0.value.shape) })
        var expected: [(ModelKind, [ParameterView])] = []
        for kind in ModelKind.allCases where Experiment.mismatch(of: kind, with: dataset) == nil {
            let views = Experiment(model: kind, dataset: dataset, train: train, test: test).makeModel(seed: 0).views
            if Dictionary(uniqueKeysWithValues: views.map { ($0.name, $0.shape) }) == found { return kind }
            expected.append((kind, views))
        }
        let held = order.map { "\($0) \(found[$0] ?? [])" }.joined(separator: ", ")
        let candidates = expected.map { kind, views in
            "\(kind.rawValue): " + views.map { "\($0.name) \($0.shape)" }.joined(separator: ", ")
        }.joined(separator: "; ")
        throw CLIError("""
            \(file): no model recorded in the file, and its tensors match none of the models for \(dataset.rawValue); \
            it holds \(tensors.count) tensor(s): \(held.isEmpty ? "none" : held). Expected one of: \(candidates)
            """)
    }
}
