import Engine

extension Model {
    /// One forward → loss → backward pass on `batch` in training mode: afterwards the gradients
    /// (zeroed first) are those of the batch's mean loss, which is returned. The optimiser step is the caller's.
    public func computeGradients(on batch: Batch, criterion: Criterion) -> Float {
        zeroGradients()
        let loss = criterion.loss(forward(batch.inputs, mode: .training), labels: batch.labels, targets: batch.targets)
        backward(criterion.backward())
        return loss
    }
}
