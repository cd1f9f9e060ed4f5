/// What a parameter server knows at the end of an epoch: the weights after its last update, the
/// training loss over its samples (averaged as one process with the global batch would average it),
/// and what each rank contributed.
public struct EpochSummary: Sendable {
    /// The epoch just finished, 1-based.
    public var epoch: Int
    /// The weights after the epoch's last update.
    public var weights: [Float]
    /// The sample-weighted mean of the losses the workers reported during the epoch.
    public var trainLoss: Double
    /// The number of training samples the epoch covered.
    public var samples: Int
    /// The epoch's training time in seconds: from the last worker's join (first epoch) or the end of
    /// the previous epoch's report, to the epoch's last update.
    public var seconds: Double
    /// The number of optimiser updates the server applied during the epoch.
    public var updates: Int
    /// The server's time spent averaging, updating and queueing weights during the epoch, in seconds.
    public var updateSeconds: Double
    /// The number of workers taking part at the epoch's end.
    public var worldSize: Int
    /// Each rank's part of the epoch, indexed by rank (ranks that took no part are all zero).
    public var ranks: [RankStatistics]
}

/// One rank's share of an epoch, as the server saw it.
public struct RankStatistics: Sendable, Equatable {
    /// The gradients the rank pushed.
    public var pushes: Int = 0
    /// The samples those gradients were computed on.
    public var samples: Int = 0
    /// How long the rank's pushes waited at the server for the other ranks' (sync, local SGD), or its
    /// worker was held for the slowest or for the world to join (SSP), in seconds; 0 in async mode.
    public var waitSeconds: Double = 0
    /// The sum over the rank's pushes of their staleness, the number of updates applied between the
    /// weights the gradient was computed on and the gradient's own update (0 in sync mode).
    public var stalenessSum = 0
    /// The largest staleness of the rank's pushes.
    public var maxStaleness = 0
    /// How many of the rank's pushes were computed on weights given while the rank was k steps ahead
    /// of the slowest worker, at index k (async and SSP; SSP never goes past its bound). Sync and a
    /// rank that was never ahead: one entry.
    public var stepsAhead: [Int] = []
    /// Pushes rejected because their loss or gradient held NaN or infinity, or their gradient's norm
    /// was beyond the gradient guard's limit (never applied).
    public var rejected = 0
    /// The bytes the server sent the rank (headers and payloads) while the epoch was in progress.
    public var sentBytes = 0
    /// The bytes the server received from the rank (headers and payloads) while the epoch was in progress.
    public var receivedBytes = 0

    /// Empty statistics.
    public init() {}

    /// Counts `pushes` pushes computed `steps` steps ahead of the slowest worker.
    public mutating func countStepsAhead(_ steps: Int, pushes: Int = 1) {
        if steps >= stepsAhead.count { stepsAhead += [Int](repeating: 0, count: steps + 1 - stepsAhead.count) }
        stepsAhead[steps] += pushes
    }

    /// Adds `other`'s counts to these (the largest staleness is the larger of the two).
    public mutating func add(_ other: RankStatistics) {
        pushes += other.pushes
        samples += other.samples
        waitSeconds += other.waitSeconds
        stalenessSum += other.stalenessSum
        maxStaleness = max(maxStaleness, other.maxStaleness)
        rejected += other.rejected
        sentBytes += other.sentBytes
        receivedBytes += other.receivedBytes
        for (steps, count) in other.stepsAhead.enumerated() where count > 0 { countStepsAhead(steps, pushes: count) }
    }
}

/// What one worker did over a run, as the worker saw it.
public struct WorkerStatistics: Sendable, Equatable {
    /// The rank the server gave the worker.
    public var rank: Int
    /// The gradients pushed (including empty end-of-epoch ones).
    public var pushes: Int
    /// The training samples computed on.
    public var samples: Int
    /// Time spent gathering batches and computing gradients, in seconds.
    public var computeSeconds: Double
    /// Time from sending a gradient to holding the next weights (transfer, the server's update, and
    /// in sync mode the wait for the other ranks), in seconds.
    public var exchangeSeconds: Double
}
