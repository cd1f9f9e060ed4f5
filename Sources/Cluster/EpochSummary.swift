/// What a parameter server knows at the end of an epoch: the weights after its last step and the
/// training loss over its samples, averaged as one process with the global batch would average it.
public struct EpochSummary: Sendable {
    /// The epoch just finished, 1-based.
    public var epoch: Int
    /// The weights after the epoch's last step.
    public var weights: [Float]
    /// The sample-weighted mean of the losses the workers reported during the epoch.
    public var trainLoss: Double
    /// The number of training samples the epoch covered.
    public var samples: Int
}
