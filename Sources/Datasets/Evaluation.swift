import Engine

/// A model's mean loss and accuracy on a dataset.
public struct Evaluation: Sendable {
    /// The mean loss per sample.
    public var loss: Double
    /// The fraction of samples predicted correctly, in [0, 1] (0 for regression).
    public var accuracy: Double
    /// The number of samples predicted correctly.
    public var correct: Int
    /// The number of samples evaluated.
    public var count: Int
}

extension Model {
    /// Evaluates on every sample of `dataset` in order, in evaluation mode (no gradient work).
    public func evaluate(on dataset: LabeledDataset, criterion: Criterion, batchSize: Int = 1000) -> Evaluation {
        let loader = DataLoader(dataset, batchSize: batchSize, shuffle: false)
        var totalLoss = 0.0, correct = 0
        for batch in loader.epoch(1) {
            let output = forward(batch.inputs, mode: .evaluation)
            totalLoss += Double(criterion.loss(output, labels: batch.labels, targets: batch.targets)) * Double(batch.count)
            correct += criterion.correctPredictions(output, labels: batch.labels)
        }
        let count = dataset.count
        return Evaluation(loss: count > 0 ? totalLoss / Double(count) : 0,
                          accuracy: count > 0 ? Double(correct) / Double(count) : 0, correct: correct, count: count)
    }
}
