import Foundation

/// Cross-entropy of raw logits against class indices, averaged over the batch (PyTorch's
/// `CrossEntropyLoss()`), through a log-softmax shifted by the row maximum.
public final class CrossEntropyLoss {
    private let probabilities = Tensor()
    private let inputGradient = Tensor()
    private var savedLabels: [Int32] = []

    /// Creates the loss.
    public init() {}

    /// The mean negative log-likelihood of `labels` under softmax(`logits`); logits are [batch, classes].
    public func forward(_ logits: Tensor, labels: [Int32]) -> Float {
        let rows = logits.rows, width = logits.columns
        precondition(labels.count == rows, "\(labels.count) labels for \(rows) rows of logits")
        probabilities.resize(to: logits.shape)
        var total: Double = 0
        for r in 0..<rows {
            let label = Int(labels[r])
            precondition(label >= 0 && label < width, "label \(label) outside 0..<\(width)")
            let x = logits.data + r * width
            let (largest, sum) = SoftmaxRow.write(x, into: probabilities.data + r * width, count: width)
            total += Double(logf(sum) - (x[label] - largest))
        }
        savedLabels = labels
        return rows == 0 ? 0 : Float(total / Double(rows))
    }

    /// The gradient of the last loss w.r.t. the logits: (softmax − one-hot) / batch.
    public func backward() -> Tensor {
        inputGradient.copy(from: probabilities)
        let rows = probabilities.rows, width = probabilities.columns
        guard rows > 0 else { return inputGradient }
        let scale = 1 / Float(rows)
        for r in 0..<rows {
            let g = inputGradient.data + r * width
            g[Int(savedLabels[r])] -= 1
            for j in 0..<width { g[j] *= scale }
        }
        return inputGradient
    }
}

extension Tensor {
    /// The number of rows whose largest entry is at the index `labels` gives (first maximum wins).
    public func correctPredictions(labels: [Int32]) -> Int {
        let rows = self.rows, width = columns
        var correct = 0
        for r in 0..<rows {
            let x = data + r * width
            var best = 0
            for j in 1..<max(width, 1) where x[j] > x[best] { best = j }
            if best == Int(labels[r]) { correct += 1 }
        }
        return correct
    }
}
