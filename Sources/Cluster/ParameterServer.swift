import Datasets
import Engine
import Foundation
import Logging
import Transport

/// The parameter server of data-parallel training: it owns the flat weights and the optimiser state,
/// welcomes workers over a ROUTER socket and applies their gradients.
///
/// When to apply and whom to answer is its `UpdatePolicy`'s to say: `SyncRounds` (every worker's
/// gradient per step, or weight change per local-SGD round, averaged; elastic membership),
/// `AsyncUpdates` (each gradient on arrival) and `BoundedStaleness` (on arrival, no worker more than
/// S steps ahead of the slowest). The actor does the I/O, membership (joins, heartbeats, dropping
/// silent workers) and the accounting, and carries out the policy's directives.
///
/// The actor runs on its transport's dedicated thread (its serial executor), which alone touches
/// the socket, so nothing here blocks Swift's cooperative pool. Its slow work (the owner's epoch
/// reports with their evaluation and checkpoint, state writes) runs in order on a reporting thread,
/// so the socket thread goes on receiving and sending heartbeats meanwhile: a worker is dropped only
/// when its heartbeats do not arrive. Every wait has a deadline.
public actor ParameterServer {
    /// The endpoint the server bound, as its transport reports it (with the chosen port for `tcp://…:*`).
    public nonisolated let endpoint: String
    /// The training set-up sent to every worker.
    public nonisolated let configuration: TrainingConfiguration
    /// The data every worker must have.
    public nonisolated let dataset: DatasetDescription
    /// The number of workers the first step waits for (in async mode, the fixed number of ranks).
    public nonisolated let worldSize: Int
    /// The most workers that take part at once (sync mode grows up to it as workers join).
    public nonisolated let maximumWorkers: Int
    /// The model fingerprint every message must carry.
    public nonisolated let fingerprint: UInt64
    /// Which shard of `configuration.shards` this server is (0 with one server).
    public nonisolated let shardIndex: Int
    /// The range of the model's flat parameters this server owns (all of them with one server).
    public nonisolated let shardRange: Range<Int>
    /// The number of the model's flat parameters (of every shard together).
    public nonisolated let modelParameterCount: Int
    /// Shards 1…S−1: the connection to shard 0 that carries this shard's range at each epoch's end (else nil).
    let shardLink: (any MessageTransport)?
    /// Shard 0: the epochs whose report waits for the other shards' ranges, and the ranges that came.
    var shardReports = ShardReports()
    /// Shards 1…S−1 in async and SSP mode: workers whose place another took when shard 1 placed it anew.
    var movedOut: Set<[UInt8]> = []

    /// The server's socket: a ROUTER-like transport (each message's first frame names its peer).
    let transport: any MessageTransport
    let stopRequest = StopRequest()
    let stateFile: String?
    /// Failed writes of `stateFile` in a row; the run stops after `limit` of them.
    public nonisolated let stateWrites = StateWriteFailures()

    /// The actor runs on its transport's thread, so receiving, computing and sending need no thread hop.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { transport.unownedExecutor }
    /// When to apply gradients and whom to answer (a shard resumed from its state file takes shard 0's
    /// position with a new one).
    var policy: any UpdatePolicy
    /// The step limit and the steps between state writes the policy was made with.
    let (maxSteps, checkpointEvery): (Int?, Int)
    /// The step of the state file this server resumed from (nil: it started anew).
    let resumedAt: Int?
    let optimizer: any Optimizer
    let joinTimeout: Duration
    let stepTimeout: Duration
    let heartbeatInterval: Duration
    let heartbeatTimeout: Duration
    /// Where the server's lines go, with their level and metadata (rank, step, peer).
    let logger: Logger
    /// The lines peers cause (drops, refusals, rejections), rate-limited.
    let peerLog: ThrottledLog
    let onEpochEnd: (@Sendable (EpochSummary) -> Void)?
    let onMembershipChange: (@Sendable (MembershipChange) -> Void)?
    let onStatus: (@Sendable (ServerStatus) -> Void)?
    let onStraggler: (@Sendable (Straggler) -> Void)?
    /// How long a step may wait on one worker before the server names it.
    let stragglerThreshold: Duration
    let statusInterval: Duration
    /// When the last status was made.
    var lastStatus = ContinuousClock.now
    /// Progress, traffic and each rank's state, for the process's metrics backend (if any).
    var metrics = ServerMetrics()
    /// Runs the slow work off the socket thread, in order: epoch reports (`onEpochEnd`: an
    /// evaluation, a checkpoint), the other events but `onStatus`, and state writes.
    let reporting = SerialThread(name: "server-reports")
    /// The last state write given to `reporting`, while it has not begun and no epoch report follows
    /// it: a newer state replaces its snapshot instead of queueing another.
    var queuedState: PendingState?

    /// The current weights: each update writes a fresh buffer from the pool, so the buffer sent to the
    /// workers (zero-copy) is never written while it is on its way.
    var weights: WeightSnapshots.Snapshot
    let snapshots: WeightSnapshots
    /// Reused every update: the sample-weighted mean gradient (sync), or one push's gradient read out of its frame (async).
    var gradient: [Float]
    /// The run's push codec, nil when pushes are float32 (`--compress none`).
    let pushCodec: (any Codec)?
    /// Buffers for decoded pushes (held by the push until it is applied or dropped), with `pushCodec`.
    let decodedPushes: WeightSnapshots?
    /// Buffers the pushes that come in parts are put together in (overlap runs), else nil.
    let partBuffers: WeightSnapshots?
    /// The mirror of the workers' replicas when weights travel as deltas (`--compress-weights`), else nil.
    let replicas: WeightReplicas?
    /// The optimiser updates applied so far.
    var updates = 0
    /// Pushes rejected for NaN or infinity, or as outliers, so far.
    var rejectedPushes = 0
    /// Which gradients are too large to apply.
    var gradientGuard: GradientGuard

    /// The workers taking part, by slot (their slice of each global batch). Before the first step and
    /// under fixed ranks there are `worldSize` slots, nil where no worker is; under elastic membership
    /// after the first step, only workers.
    var slots: [Member?]
    /// Elastic membership: workers that joined during a step, waiting to take part from the next one.
    var joiners: [Member] = []
    /// Workers that asked to join while every place was taken, in order: the first takes the next place that frees.
    var waiting: [WaitingWorker] = []
    /// The most workers that wait for a place.
    let maximumWaiting: Int
    /// Workers dropped as silent, by identity: one that speaks again is taken back with its rank.
    var departed: [[UInt8]: Int] = [:]
    /// The rank the next new worker gets.
    var nextRank = 0
    /// Whether the first `worldSize` workers have joined.
    var started = false
    /// When training last moved on (an update, a start, a change of workers): the step timeout counts from it.
    var lastProgress = ContinuousClock.now
    /// The straggler last named, so each wait is named once.
    var namedStraggler: (rank: Int, step: Int)?

    /// Per-epoch accounting (0-based epoch index).
    var epochs: [Int: EpochProgress] = [:]
    /// When the epoch being timed started: the first step, then the end of each epoch's report.
    var epochClock: ContinuousClock.Instant?

    /// The bytes sent to and received from each rank, by epoch (0-based) and rank, until the epoch is reported.
    var traffic: [Int: [Int: (sent: Int, received: Int)]] = [:]

    /// Counts `bytes` sent to `rank` in the epoch in progress.
    func count(sent bytes: Int, rank: Int) {
        traffic[policy.epochProgress.epoch, default: [:]][rank, default: (0, 0)].sent += bytes
    }

    /// Counts `bytes` received from `rank` in the epoch in progress.
    func count(received bytes: Int, rank: Int) {
        traffic[policy.epochProgress.epoch, default: [:]][rank, default: (0, 0)].received += bytes
    }

    /// What has been pushed and applied in one epoch so far.
    struct EpochProgress {
        var pushes = 0
        var lossSum = 0.0
        var samples = 0
        var updates = 0
        var updateSeconds = 0.0
        /// By rank.
        var ranks: [RankStatistics] = []

        /// The statistics of `rank`, growing the list as needed.
        subscript(rank rank: Int) -> RankStatistics {
            get { rank < ranks.count ? ranks[rank] : RankStatistics() }
            set {
                if rank >= ranks.count { ranks += .init(repeating: RankStatistics(), count: rank + 1 - ranks.count) }
                ranks[rank] = newValue
            }
        }
    }

    /// Serves over `transport` (a ROUTER-like one: each message's first frame names its peer) and
    /// prepares training from `weights` (the model's flat parameters, with `fingerprint`; a shard keeps
    /// its range of them) for `configuration.epochs` epochs, as `settings` say, telling `events` how it
    /// goes (the transport carries `settings.security`). `resume` starts from a saved state instead of `weights`.
    /// Shards 1…S−1 send their range at each epoch's end to shard 0 over `shardLink`.
    public init(
        transport: any MessageTransport, weights model: [Float], fingerprint: UInt64,
        configuration: TrainingConfiguration, dataset: DatasetDescription, settings: Settings = Settings(),
        resume: ServerState? = nil, events: Events = Events(), shardLink: (any MessageTransport)? = nil
    ) throws {
        let worldSize = settings.worldSize, logger = events.logger
        let (heartbeatInterval, heartbeatTimeout) = (settings.heartbeatInterval, settings.heartbeatTimeout)
        precondition(worldSize > 0, "a parameter server needs at least one worker")
        precondition(dataset.trainCount > 0, "a parameter server needs training samples")
        precondition(heartbeatInterval > .zero && heartbeatTimeout > heartbeatInterval,
                     "the heartbeat timeout must be longer than the heartbeat interval")
        precondition((0..<configuration.shardCount).contains(settings.shardIndex),
                     "shard \(settings.shardIndex) of a run with \(configuration.shardCount) shard(s)")
        precondition((shardLink != nil) == (settings.shardIndex > 0), "shards 1…S−1, and only they, send their ranges to shard 0")
        shardIndex = settings.shardIndex
        self.shardLink = shardLink
        modelParameterCount = model.count
        shardRange = ShardLayout.range(of: settings.shardIndex, shards: configuration.shardCount, count: model.count)
        let weights = shardRange.count == model.count ? model : Array(model[shardRange])
        if let resume {
            try Self.check(resume, configuration: configuration, dataset: dataset, fingerprint: fingerprint,
                           parameterCount: weights.count)
        }
        let peerLog = ThrottledLog(limit: settings.peerLinesPerSecond, logger: logger)
        self.transport = transport
        self.endpoint = transport.endpoint
        let snapshots = WeightSnapshots(count: weights.count)
        self.snapshots = snapshots
        self.weights = weights.withUnsafeBufferPointer { snapshots.snapshot(of: $0) }
        self.gradient = [Float](repeating: 0, count: weights.count)
        pushCodec = configuration.compress == .none ? nil : configuration.compress.codec
        decodedPushes = configuration.compress == .none ? nil : WeightSnapshots(count: weights.count)
        partBuffers = configuration.overlapPushes ? WeightSnapshots(count: weights.count) : nil
        self.fingerprint = fingerprint
        self.configuration = configuration
        self.dataset = dataset
        self.worldSize = worldSize
        let maximumWorkers = max(worldSize, min(settings.maximumWorkers ?? worldSize, ProtocolLimits.standard.maxWorldSize))
        self.maximumWorkers = maximumWorkers
        self.joinTimeout = settings.joinTimeout
        self.stepTimeout = settings.stepTimeout
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatTimeout = heartbeatTimeout
        self.logger = logger
        self.peerLog = peerLog
        self.onEpochEnd = events.onEpochEnd
        self.onMembershipChange = events.onMembershipChange
        self.onStatus = events.onStatus
        self.statusInterval = settings.statusInterval
        self.stragglerThreshold = settings.stragglerThreshold
        self.onStraggler = events.onStraggler
        self.stateFile = settings.stateFile
        self.maximumWaiting = max(0, settings.maximumWaiting ?? maximumWorkers)
        gradientGuard = GradientGuard(bound: settings.maxGradientNorm)
        slots = .init(repeating: nil, count: worldSize)
        (maxSteps, checkpointEvery) = (settings.maxSteps, settings.checkpointEvery)
        resumedAt = resume?.step
        policy = try configuration.makePolicy(sampleCount: dataset.trainCount, worldSize: worldSize, maxSteps: settings.maxSteps,
                                              checkpointEvery: settings.checkpointEvery, resume: resume)
        optimizer = configuration.serverOptimizer.makeOptimizer(parameterCount: weights.count)
        // Elastic membership answers every worker with the same message: one replica serves them all.
        replicas = configuration.compressWeights == .none ? nil
            : WeightReplicas(codec: configuration.compressWeights.codec, count: weights.count, shared: policy.membership == .elastic)
        if let resume {
            do {
                try optimizer.restore(stepCount: resume.optimizerStepCount, buffers: resume.optimizerBuffers)
            } catch {
                throw ClusterError.cannotResume("\(error)")
            }
            self.weights = resume.weights.withUnsafeBufferPointer { snapshots.snapshot(of: $0) }
            updates = resume.updates
            for tally in resume.openEpochs {
                epochs[tally.epoch] = EpochProgress(pushes: tally.pushes, lossSum: tally.lossSum, samples: tally.samples,
                                                    updates: tally.updates)
            }
            if resume.openEpochs.isEmpty && resume.epochPushes > 0 {
                // Written before every mode kept its open epochs as tallies.
                epochs[resume.epoch] = EpochProgress(pushes: resume.epochPushes, lossSum: resume.epochLossSum,
                                                     samples: resume.epochSamples, updates: resume.epochUpdates)
            }
            logger.info("parameter server: resumed at step \(resume.step) (epoch \(resume.epoch + 1), \(resume.updates) updates)",
                        metadata: ["step": "\(resume.step)"])
        }
    }

    /// Throws unless `state` belongs to this configuration, data and model.
    private static func check(_ state: ServerState, configuration: TrainingConfiguration, dataset: DatasetDescription,
                              fingerprint: UInt64, parameterCount: Int) throws {
        guard state.configuration == configuration else { throw ClusterError.cannotResume("the training configuration differs") }
        guard state.dataset == dataset else { throw ClusterError.cannotResume("the data set differs") }
        guard state.fingerprint == fingerprint, state.weights.count == parameterCount else {
            throw ClusterError.cannotResume("the model differs")
        }
    }

    /// Writes a log line to standard error.
    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The current weights (the final ones once `run()` has returned); a shard's range of them.
    public var currentWeights: [Float] { Array(weights.values) }

    /// The number of optimiser updates applied so far (in sync mode, the number of steps with an update).
    public var completedUpdates: Int { updates }

    /// Per-rank counts of the pushes of epochs not reported yet (the one in progress when a run stops).
    public var unreportedRanks: [RankStatistics] {
        var totals: [RankStatistics] = []
        for progress in epochs.values {
            if totals.count < progress.ranks.count { totals += .init(repeating: RankStatistics(), count: progress.ranks.count - totals.count) }
            for (rank, statistics) in progress.ranks.enumerated() { totals[rank].add(statistics) }
        }
        return totals
    }

    /// The number of pushes rejected because their loss or gradient held NaN or infinity, or their
    /// gradient's norm was beyond the gradient guard's limit.
    public var rejectedGradients: Int { rejectedPushes }

    /// The number of workers taking part now.
    public var currentWorldSize: Int { slots.count { $0 != nil } }

    /// Whether every step has been taken.
    var isFinished: Bool { policy.isFinished }

    /// The workers' places as the policy sees them.
    var roster: Roster { Roster(occupied: slots.map { $0 != nil }, started: started) }

    /// Welcomes the workers, trains until every step is taken (each worker gets stop) and returns the
    /// final weights (a shard's range of them); on a timeout or a worker's failure it sends every worker an error and throws.
    public func run() async throws -> [Float] {
        var joinDeadline = ContinuousClock.now + joinTimeout
        var nextBeat = ContinuousClock.now + heartbeatInterval
        // Whether silence is to be judged at the next wait that finds nothing more to receive.
        var silenceDue = false
        // When the last wait ended: the time from it to the next wait is spent handling messages.
        var lastWaitEnd = ContinuousClock.now
        do {
            while !isFinished {
                let deadline = started ? lastProgress + stepTimeout : joinDeadline
                let wake = min(nextBeat, lastStatus + statusInterval)
                let waitStart = ContinuousClock.now
                // A wait that is over at once when silence is due: the transport still looks at its
                // socket first, and answers nil only when nothing more has arrived.
                let planned = silenceDue ? waitStart : max(min(deadline, wake), waitStart + .milliseconds(1))
                let frames = await transport.receive(before: planned, isolation: #isolation)
                let waitEnd = ContinuousClock.now
                let heldUp = (waitStart - lastWaitEnd) + max(.zero, waitEnd - planned)
                // The join deadline, like every worker's silence and the step's time, leaves it out.
                if noticeHoldUp(heldUp: heldUp, at: waitEnd) { joinDeadline += heldUp }
                lastWaitEnd = waitEnd
                if let reason = stopRequest.reason {
                    broadcastEnd(.stop)
                    // Debug: the caller reports how the run ended (`stoppedBy`); one line says it.
                    logger.debug("parameter server: stopped by \(reason) after \(updates) updates; told every worker to stop")
                    saveState()
                    abandonShardReports(because: "the run was stopped by \(reason)")
                    await reporting.drained()
                    return Array(weights.values)
                }
                if let frames {
                    try handle(frames)
                } else if silenceDue {
                    // Every message that reached the transport before `waitStart` has been handled.
                    dropSilent(lookedAt: waitStart)
                    silenceDue = false
                }
                let now = ContinuousClock.now
                if now >= nextBeat {
                    keepAlive(now: now)
                    silenceDue = true
                    nextBeat = now + heartbeatInterval
                }
                if now - lastStatus >= statusInterval {
                    let status = status(now: now)
                    metrics.record(status, updates: updates, at: now)
                    onStatus?(status)
                }
                if frames == nil {
                    if transport.isFinished { throw ClusterError.connectionClosed }
                    if now >= deadline && !isFinished { throw timeoutError() }
                }
            }
        } catch {
            peerLog.flush()
            broadcastEnd(.error(reason: ClusterError.serverStoppedPrefix + "\(error)"))
            await reporting.drained()
            logger.error("parameter server: \(error)")
            throw error
        }
        peerLog.flush()
        tellTheOthers(.stop)
        await awaitShardReports()
        // The last epoch's report and state write are done before the run is.
        await reporting.drained()
        logger.info("parameter server: done after \(updates) updates")
        return Array(weights.values)
    }

    /// Asks a running server to stop at once, for example on SIGTERM: it tells every joined worker to stop
    /// (a step in progress is dropped) and `run()` returns the current weights; `stoppedBy` names `reason`.
    /// Unless `savingState`, the state file is not written again (it keeps the last state before the
    /// request: after a divergence, the last good one).
    public nonisolated func requestStop(reason: String, savingState: Bool = true) {
        stopRequest.set(reason, savingState: savingState)
        transport.interrupt()
    }

    /// Why `run()` ended early, if `requestStop(reason:)` ended it.
    public nonisolated var stoppedBy: String? { stopRequest.reason }

    /// Closes the socket and returns once it is closed; its last messages leave within the socket's
    /// linger when the context ends (release every socket's owner, then the context, before exiting).
    public nonisolated func close() async {
        await shardLink?.close()
        await transport.close()
    }

    private func timeoutError() -> ClusterError {
        if transport.isFinished { return .connectionClosed }
        if !started {
            return .joinTimeout(joined: currentWorldSize, expected: worldSize, seconds: joinTimeout.seconds)
        }
        if slots.isEmpty { return .noWorkers(step: policy.roundStep, seconds: stepTimeout.seconds) }
        let (awaited, step) = policy.awaited(in: roster)
        let missing = awaited.compactMap { slots[$0]?.rank }
        if missing.isEmpty { return .vacantRanks(count: awaited.count, seconds: stepTimeout.seconds) }
        return .stepTimeout(step: step, missingRanks: missing, seconds: stepTimeout.seconds)
    }

    static func describe(_ description: DatasetDescription) -> String {
        "\"\(description.name)\" with \(description.trainCount) training and \(description.testCount) test samples "
            + "(checksum \(description.checksum))"
    }
}
