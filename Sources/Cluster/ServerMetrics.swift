import Metrics

/// The parameter server's metrics through swift-metrics: progress, traffic, dropped and rejected messages,
/// and each rank's state. They go to whatever backend the process bootstrapped (none: they cost a no-op).
///
/// The server feeds it from the points that already report: each status, each push's accounting, each
/// message sent and received. Rank gauges of a worker no longer taking part are removed; its totals stay.
struct ServerMetrics {
    private let step = Gauge(label: ServerMetricName.step)
    private let epoch = Gauge(label: ServerMetricName.epoch)
    private let epochProgress = Gauge(label: ServerMetricName.epochProgress)
    private let worldSize = Gauge(label: ServerMetricName.worldSize)
    private let samplesPerSecond = Gauge(label: ServerMetricName.samplesPerSecond)
    private let updatesPerSecond = Gauge(label: ServerMetricName.updatesPerSecond)
    private let updates = Counter(label: ServerMetricName.updates)
    private let trainLoss = Gauge(label: ServerMetricName.trainLoss)
    private let receivedBytes = Counter(label: ServerMetricName.receivedBytes)
    private let sentBytes = Counter(label: ServerMetricName.sentBytes)
    private let droppedMessages = Counter(label: ServerMetricName.droppedMessages)
    private let rejectedGradients = Counter(label: ServerMetricName.rejectedGradients)
    private let holdUps = Counter(label: ServerMetricName.holdUps)
    /// The gauges of the ranks in the last status.
    private var liveRanks: [Int: RankGauges] = [:]
    /// The totals of every rank that pushed.
    private var rankTotals: [Int: RankTotals] = [:]
    /// The update count and time of the last status, for the update rate.
    private var lastStatus: (updates: Int, at: ContinuousClock.Instant)?

    /// Records a status and the server's update count `updatesSoFar` at `now`.
    mutating func record(_ status: ServerStatus, updates updatesSoFar: Int, at now: ContinuousClock.Instant) {
        step.record(status.step)
        epoch.record(status.epoch)
        epochProgress.record(status.epochProgress)
        worldSize.record(status.worldSize)
        samplesPerSecond.record(status.samplesPerSecond)
        if let loss = status.loss { trainLoss.record(loss) }
        if let last = lastStatus {
            let seconds = (now - last.at).seconds
            if seconds > 0 { updatesPerSecond.record(Double(updatesSoFar - last.updates) / seconds) }
            if updatesSoFar > last.updates { updates.increment(by: updatesSoFar - last.updates) }
        } else if updatesSoFar > 0 {
            // A resumed run counts the updates it started from.
            updates.increment(by: updatesSoFar)
        }
        lastStatus = (updatesSoFar, now)
        var seen = Set<Int>()
        for worker in status.workers {
            seen.insert(worker.rank)
            let gauges = liveRanks[worker.rank] ?? RankGauges(rank: worker.rank)
            liveRanks[worker.rank] = gauges
            gauges.heartbeatAge.record(worker.secondsSinceHeard)
            gauges.step.record(worker.step)
            gauges.samplesPerSecond.record(worker.samplesPerSecond)
        }
        for rank in liveRanks.keys where !seen.contains(rank) {
            liveRanks.removeValue(forKey: rank)?.destroy()
        }
    }

    /// Records one push of `rank`: how long it waited, how stale it was, and whether it was rejected.
    mutating func recordPush(rank: Int, waitSeconds: Double, staleness: Int, rejected: Bool) {
        let totals = totals(rank: rank)
        totals.steps.increment()
        if waitSeconds > 0 { totals.waitSeconds.increment(by: waitSeconds) }
        totals.staleness.record(staleness)
        if rejected { rejectedGradients.increment() }
    }

    /// Adds `seconds` that the worker of `rank` was held for its next weights (SSP mode, where a push
    /// is applied on arrival but its worker may wait for the slowest, or for the world to join).
    mutating func recordWait(rank: Int, seconds: Double) {
        if seconds > 0 { totals(rank: rank).waitSeconds.increment(by: seconds) }
    }

    /// The counters of `rank`, made at its first use.
    private mutating func totals(rank: Int) -> RankTotals {
        if let totals = rankTotals[rank] { return totals }
        let totals = RankTotals(rank: rank)
        rankTotals[rank] = totals
        return totals
    }

    /// Counts one hold-up of the server's own thread longer than half the heartbeat timeout.
    func recordHoldUp() { holdUps.increment() }

    /// Counts `bytes` received in one message.
    func received(bytes: Int) { receivedBytes.increment(by: bytes) }

    /// Counts `bytes` sent in one message.
    func sent(bytes: Int) { sentBytes.increment(by: bytes) }

    /// Counts a message dropped as malformed, unexpected or out of turn.
    func dropped() { droppedMessages.increment() }
}

/// One rank's gauges, removed when it stops taking part.
private struct RankGauges {
    let heartbeatAge: Gauge
    let step: Gauge
    let samplesPerSecond: Gauge

    init(rank: Int) {
        let dimensions = [("rank", String(rank))]
        heartbeatAge = Gauge(label: ServerMetricName.rankHeartbeatAge, dimensions: dimensions)
        step = Gauge(label: ServerMetricName.rankStep, dimensions: dimensions)
        samplesPerSecond = Gauge(label: ServerMetricName.rankSamplesPerSecond, dimensions: dimensions)
    }

    func destroy() {
        heartbeatAge.destroy()
        step.destroy()
        samplesPerSecond.destroy()
    }
}

/// One rank's totals over the run.
private struct RankTotals {
    let steps: Counter
    let waitSeconds: FloatingPointCounter
    let staleness: Recorder

    init(rank: Int) {
        let dimensions = [("rank", String(rank))]
        steps = Counter(label: ServerMetricName.rankSteps, dimensions: dimensions)
        waitSeconds = FloatingPointCounter(label: ServerMetricName.rankWaitSeconds, dimensions: dimensions)
        staleness = Recorder(label: ServerMetricName.rankStaleness, dimensions: dimensions)
    }
}

/// The names of the parameter server's metrics (swift-metrics labels), for backends and dashboards.
public enum ServerMetricName {
    /// The step in progress (the lowest rank's in async and SSP mode).
    public static let step = "trainer_step"
    /// The epoch in progress, from 1.
    public static let epoch = "trainer_epoch"
    /// The fraction of the epoch done, 0 to 1.
    public static let epochProgress = "trainer_epoch_progress"
    /// The number of workers taking part.
    public static let worldSize = "trainer_world_size"
    /// Samples per second over all workers.
    public static let samplesPerSecond = "trainer_samples_per_second"
    /// Optimiser updates per second.
    public static let updatesPerSecond = "trainer_updates_per_second"
    /// Optimiser updates applied (counter).
    public static let updates = "trainer_updates_total"
    /// The mean training loss of the epoch so far.
    public static let trainLoss = "trainer_train_loss"
    /// Bytes of the messages received (counter).
    public static let receivedBytes = "trainer_received_bytes_total"
    /// Bytes of the messages sent (counter).
    public static let sentBytes = "trainer_sent_bytes_total"
    /// Messages dropped as malformed, unexpected or out of turn (counter).
    public static let droppedMessages = "trainer_dropped_messages_total"
    /// Gradients rejected for NaN or infinity (counter).
    public static let rejectedGradients = "trainer_rejected_gradients_total"
    /// Times the server's own thread was held up longer than half the heartbeat timeout (counter).
    public static let holdUps = "trainer_server_hold_ups_total"
    /// Seconds since the server last heard from a rank.
    public static let rankHeartbeatAge = "trainer_worker_heartbeat_age_seconds"
    /// The step a rank computes.
    public static let rankStep = "trainer_worker_step"
    /// A rank's samples per second.
    public static let rankSamplesPerSecond = "trainer_worker_samples_per_second"
    /// The pushes a rank made (counter).
    public static let rankSteps = "trainer_worker_steps_total"
    /// Seconds a rank's pushes waited for their update (counter).
    public static let rankWaitSeconds = "trainer_worker_wait_seconds_total"
    /// Updates between the weights a rank's push was computed on and its own (histogram).
    public static let rankStaleness = "trainer_worker_staleness"
    /// Bucket bounds that suit the staleness histogram (updates between a push's weights and its own).
    public static let stalenessBuckets: [Double] = [0, 1, 2, 3, 4, 8, 16, 32, 64]
}
