/// What a network's output is trained to predict, which fixes its loss and how a prediction is scored.
public enum Objective: String, Sendable {
    /// Class logits scored with `CrossEntropyLoss`; the prediction is the arg-max.
    case classification
    /// One logit per sample scored with `BCEWithLogitsLoss`; the prediction is logit > 0.
    case binaryClassification
    /// Real values scored with `MSELoss`; there is no accuracy.
    case regression
}

/// The loss for an objective, with one entry point for training loops and evaluation.
public final class Criterion {
    /// The objective this criterion scores.
    public let objective: Objective
    private let crossEntropy = CrossEntropyLoss()
    private let binaryCrossEntropy = BCEWithLogitsLoss()
    private let squaredError = MSELoss()

    /// Creates the criterion for an objective.
    public init(_ objective: Objective) { self.objective = objective }

    /// The mean loss of `output` against class `labels` (classification) or real `targets` (the others).
    public func loss(_ output: Tensor, labels: [Int32], targets: Tensor) -> Float {
        switch objective {
        case .classification: crossEntropy.forward(output, labels: labels)
        case .binaryClassification: binaryCrossEntropy.forward(output, target: targets)
        case .regression: squaredError.forward(output, target: targets)
        }
    }

    /// The gradient of the last loss w.r.t. the output.
    public func backward() -> Tensor {
        switch objective {
        case .classification: crossEntropy.backward()
        case .binaryClassification: binaryCrossEntropy.backward()
        case .regression: squaredError.backward()
        }
    }

    /// How many rows of `output` predict their label (0 for regression).
    public func correctPredictions(_ output: Tensor, labels: [Int32]) -> Int {
        switch objective {
        case .classification:
            return output.correctPredictions(labels: labels)
        case .binaryClassification:
            var correct = 0
            for r in 0..<output.rows where (output[r] > 0) == (labels[r] != 0) { correct += 1 }
            return correct
        case .regression:
            return 0
        }
    }
}
