import Engine

extension Model {
    /// The model's outputs for every sample of `dataset` in order, in evaluation mode, flattened.
    public func predictions(on dataset: LabeledDataset, batchSize: Int = 1000) -> [Float] {
        let loader = DataLoader(dataset, batchSize: batchSize, shuffle: false)
        var outputs: [Float] = []
        for batch in loader.epoch(1) { outputs += forward(batch.inputs, mode: .evaluation).buffer }
        return outputs
    }
}
