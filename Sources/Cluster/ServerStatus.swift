/// A parameter server's progress and its workers' state at one moment, for a live display.
public struct ServerStatus: Sendable, Equatable {
    /// The epoch in progress, counted from 1.
    public var epoch: Int
    /// The number of epochs the run trains.
    public var epochs: Int
    /// The fraction of the epoch's samples done, 0 to 1.
    public var epochProgress: Double
    /// The step in progress (sync) or the lowest rank's step (async).
    public var step: Int
    /// The number of workers taking part.
    public var worldSize: Int
    /// Samples per second over all workers since the previous status.
    public var samplesPerSecond: Double
    /// The mean training loss of the epoch so far, once a gradient has been applied.
    public var loss: Double?
    /// Each worker taking part, by rank.
    public var workers: [WorkerStatus]

    /// A status with every field given.
    public init(epoch: Int, epochs: Int, epochProgress: Double, step: Int, worldSize: Int, samplesPerSecond: Double,
                loss: Double?, workers: [WorkerStatus]) {
        (self.epoch, self.epochs, self.epochProgress, self.step) = (epoch, epochs, epochProgress, step)
        (self.worldSize, self.samplesPerSecond, self.loss, self.workers) = (worldSize, samplesPerSecond, loss, workers)
    }
}

/// One worker as the server sees it.
public struct WorkerStatus: Sendable, Equatable {
    /// The worker's rank.
    public var rank: Int
    /// The step the worker computes.
    public var step: Int
    /// The samples per second of its pushes since the previous status.
    public var samplesPerSecond: Double
    /// Seconds since the server last heard from it.
    public var secondsSinceHeard: Double
    /// How long a step has waited on this worker alone, once that is longer than the straggler threshold.
    public var stragglingSeconds: Double? = nil
    /// The bytes per second sent to and received from it since the previous status (headers and payloads).
    public var bytesPerSecond: Double = 0

    /// A worker's status with every field given.
    public init(rank: Int, step: Int, samplesPerSecond: Double, secondsSinceHeard: Double, stragglingSeconds: Double? = nil,
                bytesPerSecond: Double = 0) {
        (self.rank, self.step, self.samplesPerSecond, self.secondsSinceHeard) = (rank, step, samplesPerSecond, secondsSinceHeard)
        (self.stragglingSeconds, self.bytesPerSecond) = (stragglingSeconds, bytesPerSecond)
    }
}

/// A worker that a step waited on for longer than the server's straggler threshold.
public struct Straggler: Sendable, Equatable {
    /// The worker's rank.
    public var rank: Int
    /// The step that waited (sync: the step; SSP: the slowest worker's step).
    public var step: Int
    /// How long the step had waited when the server named the worker, in seconds.
    public var seconds: Double

    /// A straggler with every field given.
    public init(rank: Int, step: Int, seconds: Double) {
        self.rank = rank
        self.step = step
        self.seconds = seconds
    }
}
