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

    /// `computeGradients(on:criterion:)`, calling `finalFrom(offset)` during backward each time the
    /// gradients from `offset` to the end are final (last layer first, ending with 0).
    public func computeGradients(on batch: Batch, criterion: Criterion, finalFrom: (Int) -> Void) -> Float {
        zeroGradients()
        let loss = criterion.loss(forward(batch.inputs, mode: .training), labels: batch.labels, targets: batch.targets)
        backward(criterion.backward(), finalFrom: finalFrom)
        return loss
    }
}
