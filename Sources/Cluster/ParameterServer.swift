import Datasets
import Engine
import Foundation
import ZeroMQ

/// The parameter server of data-parallel training: it owns the flat weights and the optimiser state,
/// welcomes workers over a ROUTER socket and applies their gradients.
///
/// In sync mode each step averages one gradient per worker (weighted by sample count), applies one
/// optimiser step and sends every worker the same new weights. Workers may join at any time and take
/// part from the next step; a worker not heard from within the heartbeat timeout is dropped, the step
/// in progress is computed again by the others, so no sample of the epoch is skipped. In async mode
/// each gradient is applied as it arrives and only its sender gets the newest weights back; the ranks
/// are fixed, and a joining worker takes over the rank of a dropped one.
///
/// The actor runs on its `SocketPump`'s dedicated thread (its serial executor), which alone touches
/// the socket, so nothing here blocks Swift's cooperative pool. Every wait has a deadline.
public actor ParameterServer {
    /// The endpoint the server bound, as libzmq reports it (with the chosen port for `tcp://…:*`).
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

    let pump: SocketPump
    let mailbox: Mailbox
    private let stopRequest = StopRequest()
    let stateFile: String?
    /// Failed writes of `stateFile` in a row; the run stops after `limit` of them.
    public nonisolated let stateWrites = StateWriteFailures()
    let checkpointEvery: Int
    /// Admits only listed workers when the server runs CURVE; it must live as long as the socket.
    private let zap: ZAPHandler?

    /// The actor runs on its socket's pump thread, so receiving, computing and sending need no thread hop.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { pump.unownedExecutor }
    /// Async mode: the fixed plan of `worldSize` ranks.
    let plan: ShardPlan
    let optimizer: any Optimizer
    /// Sync mode: the most steps to complete (nil: all of the epochs').
    let maxSteps: Int?
    /// Async mode: the steps each rank takes, all of the epochs' or `maxSteps` if fewer.
    let asyncTotalSteps: Int
    let joinTimeout: Duration
    let stepTimeout: Duration
    let heartbeatInterval: Duration
    let heartbeatTimeout: Duration
    let log: @Sendable (String) -> Void
    /// The lines peers cause (drops, refusals, rejections), rate-limited.
    let peerLog: ThrottledLog
    let trace: (@Sendable (String) -> Void)?
    let onEpochEnd: (@Sendable (EpochSummary) -> Void)?
    let onMembershipChange: (@Sendable (MembershipChange) -> Void)?
    let onStatus: (@Sendable (ServerStatus) -> Void)?
    let statusInterval: Duration
    /// When the last status was made.
    var lastStatus = ContinuousClock.now
    /// When the server last looked for silent workers.
    var lastKeepAlive: ContinuousClock.Instant?

    /// The current weights: each update writes a fresh buffer from the pool, so the buffer sent to the
    /// workers (zero-copy) is never written while it is on its way.
    var weights: WeightSnapshots.Snapshot
    let snapshots: WeightSnapshots
    /// Reused every update: the sample-weighted mean gradient (sync), or one push's gradient read out of its frame (async).
    var gradient: [Float]
    /// The optimiser updates applied so far.
    var updates = 0
    /// Pushes rejected for NaN or infinity so far.
    var rejectedPushes = 0

    /// The workers taking part, by slot (their slice of each global batch). Before the first step and
    /// in async mode there are `worldSize` slots, nil where no worker is; in sync mode after the first
    /// step, only workers.
    var slots: [Member?]
    /// Sync mode: workers that joined during a step, waiting to take part from the next one.
    var joiners: [Member] = []
    /// Workers dropped as silent, by identity: one that speaks again is taken back with its rank.
    var departed: [[UInt8]: Int] = [:]
    /// The rank the next new worker gets.
    var nextRank = 0
    /// Whether the first `worldSize` workers have joined.
    var started = false
    /// When training last moved on (an update, a start, a change of workers): the step timeout counts from it.
    var lastProgress = ContinuousClock.now

    /// Sync mode: the step being computed (the protocol's step number; abandoned steps are skipped).
    var step = 0
    /// Sync mode: where the step being computed starts in its epoch.
    var cursor: EpochCursor
    /// Sync mode: the steps completed.
    var completedSteps = 0
    /// Sync mode: the gradients of the current step by slot, and when each arrived.
    var pending: [(push: GradientPush, arrival: ContinuousClock.Instant)?]
    /// Async mode: the next step of each slot.
    var slotSteps: [Int]

    /// Per-epoch accounting (0-based epoch index).
    var epochs: [Int: EpochProgress] = [:]
    /// Async mode: the next epoch to report once every rank's pushes for it are in.
    var nextEpochToReport = 0
    /// When the epoch being timed started: the first step, then the end of each epoch's report.
    var epochClock: ContinuousClock.Instant?

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

    /// Binds a ROUTER socket at `endpoint` and prepares training from `weights` (the model's flat
    /// parameters) for `configuration.epochs` epochs, or `maxSteps` steps if that is fewer (per rank in
    /// async mode); calls `onEpochEnd` on the actor after each epoch's last update, `onMembershipChange`
    /// when a worker joins or is dropped, `onStatus` every `statusInterval` with the progress and each
    /// worker's state, and `trace` (when given) with a line per message sent or
    /// received (type, step, size; never the payload). The first step waits `joinTimeout` for
    /// `worldSize` workers; a step waits at most `stepTimeout`. Workers are sent a heartbeat when the
    /// server has sent them nothing for `heartbeatInterval`, and one not heard from for
    /// `heartbeatTimeout` is dropped. With `security` the socket is a CURVE server and a ZAP handler on
    /// `context` admits only the listed workers. With `stateFile` (sync mode) it writes its whole state
    /// there every `checkpointEvery` steps (0: never), at each epoch end and when stopped; `resume`
    /// starts from such a state instead of from `weights`. Lines about dropped, refused or rejected
    /// messages are logged at most `peerLinesPerSecond` a second (nil: all), the rest summarised.
    public init(
        context: Context, bind endpoint: String, weights: [Float], fingerprint: UInt64,
        configuration: TrainingConfiguration, dataset: DatasetDescription, worldSize: Int, maximumWorkers: Int? = nil,
        maxSteps: Int? = nil, joinTimeout: Duration = .seconds(60), stepTimeout: Duration = .seconds(60),
        heartbeatInterval: Duration = .seconds(1), heartbeatTimeout: Duration = .seconds(10),
        security: ServerSecurity? = nil, stateFile: String? = nil, checkpointEvery: Int = 0, resume: ServerState? = nil,
        peerLinesPerSecond: Int? = 20,
        log: @escaping @Sendable (String) -> Void = ParameterServer.standardError,
        trace: (@Sendable (String) -> Void)? = nil,
        onMembershipChange: (@Sendable (MembershipChange) -> Void)? = nil,
        statusInterval: Duration = .milliseconds(250), onStatus: (@Sendable (ServerStatus) -> Void)? = nil,
        onEpochEnd: (@Sendable (EpochSummary) -> Void)? = nil
    ) throws {
        precondition(worldSize > 0, "a parameter server needs at least one worker")
        precondition(dataset.trainCount > 0, "a parameter server needs training samples")
        precondition(heartbeatInterval > .zero && heartbeatTimeout > heartbeatInterval,
                     "the heartbeat timeout must be longer than the heartbeat interval")
        if let resume {
            try Self.check(resume, configuration: configuration, dataset: dataset, fingerprint: fingerprint,
                           parameterCount: weights.count, worldSize: worldSize)
        }
        let maximumFrame = ProtocolLimits.maximumFrameBytes(parameterCount: weights.count)
        // The handler runs before the socket binds, so no connection is ever admitted unchecked.
        let zap = try security.map { try ZAPHandler(context: context, authorizedKeys: $0.authorizedKeys, log: log) }
        let peerLog = ThrottledLog(limit: peerLinesPerSecond, log: log)
        let pump = try SocketPump(
            context: context, type: .router, name: "parameter-server",
            limits: .parameterServer(parameterCount: weights.count),
            onError: { peerLog("parameter server: socket error: \($0)") },
            setUp: { socket in
                if let security { try socket.makeCurveServer(secretKey: security.secretKey) }
                // libzmq drops a peer that sends a larger frame before buffering it; with CURVE it counts
                // the encrypted frame.
                try socket.set(.maxMessageSize, Int64(maximumFrame + (security == nil ? 0 : Socket.curveFrameOverhead)))
                // Keep queued weights and stop messages for up to a second after close().
                try socket.set(.linger, 1000)
                try socket.bind(endpoint)
            }
        )
        self.pump = pump
        self.zap = zap
        self.endpoint = pump.endpoint
        self.mailbox = pump.mailbox
        let snapshots = WeightSnapshots(count: weights.count)
        self.snapshots = snapshots
        self.weights = weights.withUnsafeBufferPointer { snapshots.snapshot(of: $0) }
        self.gradient = [Float](repeating: 0, count: weights.count)
        self.fingerprint = fingerprint
        self.configuration = configuration
        self.dataset = dataset
        self.worldSize = worldSize
        self.maximumWorkers = max(worldSize, min(maximumWorkers ?? worldSize, ProtocolLimits.standard.maxWorldSize))
        self.joinTimeout = joinTimeout
        self.stepTimeout = stepTimeout
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatTimeout = heartbeatTimeout
        self.log = log
        self.peerLog = peerLog
        self.trace = trace
        self.onEpochEnd = onEpochEnd
        self.onMembershipChange = onMembershipChange
        self.onStatus = onStatus
        self.statusInterval = statusInterval
        self.stateFile = stateFile
        self.checkpointEvery = checkpointEvery
        let plan = ShardPlan(sampleCount: dataset.trainCount, workerCount: worldSize,
                             batchSizePerWorker: configuration.batchSizePerWorker)
        self.plan = plan
        self.maxSteps = maxSteps
        asyncTotalSteps = min(maxSteps ?? .max, plan.stepsPerEpoch * configuration.epochs)
        cursor = EpochCursor(sampleCount: dataset.trainCount, batchSizePerWorker: configuration.batchSizePerWorker)
        slots = .init(repeating: nil, count: worldSize)
        slotSteps = [Int](repeating: 0, count: worldSize)
        pending = .init(repeating: nil, count: worldSize)
        switch configuration.optimizer {
        case .sgd:
            optimizer = SGD(parameterCount: weights.count, learningRate: Float(configuration.learningRate),
                            momentum: Float(configuration.momentum))
        case .adam:
            optimizer = Adam(parameterCount: weights.count, learningRate: Float(configuration.learningRate))
        }
        if let resume {
            do {
                try optimizer.restore(stepCount: resume.optimizerStepCount, buffers: resume.optimizerBuffers)
            } catch {
                throw ClusterError.cannotResume("\(error)")
            }
            self.weights = resume.weights.withUnsafeBufferPointer { snapshots.snapshot(of: $0) }
            step = resume.step
            completedSteps = resume.completedSteps
            cursor = EpochCursor(sampleCount: dataset.trainCount, batchSizePerWorker: configuration.batchSizePerWorker,
                                 epoch: resume.epoch, offset: resume.offset)
            updates = resume.updates
            switch configuration.mode {
            case .sync:
                epochs[resume.epoch] = EpochProgress(pushes: resume.epochPushes, lossSum: resume.epochLossSum,
                                                     samples: resume.epochSamples, updates: resume.epochUpdates)
            case .async:
                slotSteps = resume.slotSteps
                for tally in resume.openEpochs {
                    epochs[tally.epoch] = EpochProgress(pushes: tally.pushes, lossSum: tally.lossSum, samples: tally.samples,
                                                        updates: tally.updates)
                }
                nextEpochToReport = resume.openEpochs.map(\.epoch).min() ?? resume.epoch
            }
            log("parameter server: resumed at step \(resume.step) (epoch \(resume.epoch + 1), \(resume.updates) updates)")
        }
    }

    /// Throws unless `state` belongs to this configuration, data and model (and in async mode, its ranks).
    private static func check(_ state: ServerState, configuration: TrainingConfiguration, dataset: DatasetDescription,
                              fingerprint: UInt64, parameterCount: Int, worldSize: Int) throws {
        guard state.configuration == configuration else { throw ClusterError.cannotResume("the training configuration differs") }
        guard state.dataset == dataset else { throw ClusterError.cannotResume("the data set differs") }
        guard state.fingerprint == fingerprint, state.weights.count == parameterCount else {
            throw ClusterError.cannotResume("the model differs")
        }
        if configuration.mode == .async && state.slotSteps.count != worldSize {
            throw ClusterError.cannotResume("it was saved with \(state.slotSteps.count) async ranks, not \(worldSize)")
        }
    }

    /// Writes a log line to standard error.
    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The current weights (the final ones once `run()` has returned).
    public var currentWeights: [Float] { Array(weights.values) }

    /// The number of optimiser updates applied so far (in sync mode, the number of steps with an update).
    public var completedUpdates: Int { updates }

    /// The number of pushes rejected because their loss or gradient held NaN or infinity.
    public var rejectedGradients: Int { rejectedPushes }

    /// The number of workers taking part now.
    public var currentWorldSize: Int { slots.count { $0 != nil } }

    /// Whether every step has been taken.
    var isFinished: Bool {
        switch configuration.mode {
        case .sync: cursor.epoch >= configuration.epochs || completedSteps >= (maxSteps ?? .max)
        case .async: slotSteps.allSatisfy { $0 >= asyncTotalSteps }
        }
    }

    /// Welcomes the workers, trains until every step is taken (each worker gets stop) and returns the
    /// final weights; on a timeout or a worker's failure it sends every worker an error and throws.
    public func run() async throws -> [Float] {
        let joinDeadline = ContinuousClock.now + joinTimeout
        var nextBeat = ContinuousClock.now + heartbeatInterval
        do {
            while !isFinished {
                let deadline = started ? lastProgress + stepTimeout : joinDeadline
                let wake = onStatus == nil ? nextBeat : min(nextBeat, lastStatus + statusInterval)
                // At least a moment's wait, so the pump looks at its socket before a deadline is called.
                let frames = await mailbox.next(before: max(min(deadline, wake), .now + .milliseconds(1)))
                if let reason = stopRequest.reason {
                    broadcast(.stop)
                    log("parameter server: stopped by \(reason) after \(updates) updates; told every worker to stop")
                    saveState()
                    return Array(weights.values)
                }
                if let frames { try handle(frames) }
                let now = ContinuousClock.now
                if now >= nextBeat {
                    keepAlive(now: now)
                    nextBeat = now + heartbeatInterval
                }
                if let onStatus, now - lastStatus >= statusInterval { onStatus(status(now: now)) }
                if frames == nil {
                    if mailbox.isFinished { throw ClusterError.connectionClosed }
                    if now >= deadline && !isFinished { throw timeoutError() }
                }
            }
        } catch {
            peerLog.flush()
            broadcast(.error(reason: "the server stopped: \(error)"))
            log("parameter server: \(error)")
            throw error
        }
        peerLog.flush()
        log("parameter server: done after \(updates) updates")
        return Array(weights.values)
    }

    /// Asks a running server to stop at once, for example on SIGTERM: it tells every joined worker to stop
    /// (a step in progress is dropped) and `run()` returns the current weights; `stoppedBy` names `reason`.
    public nonisolated func requestStop(reason: String) {
        stopRequest.set(reason)
        mailbox.interrupt()
    }

    /// Why `run()` ended early, if `requestStop(reason:)` ended it.
    public nonisolated var stoppedBy: String? { stopRequest.reason }

    /// Closes the socket and returns once it is closed; its last messages leave within the socket's
    /// linger when the context ends (release every socket's owner, then the context, before exiting).
    public nonisolated func close() async {
        await pump.closeAndWait()
        zap?.close()
    }

    private func timeoutError() -> ClusterError {
        if mailbox.isFinished { return .connectionClosed }
        if !started {
            return .joinTimeout(joined: currentWorldSize, expected: worldSize, seconds: joinTimeout.seconds)
        }
        switch configuration.mode {
        case .sync:
            if slots.isEmpty { return .noWorkers(step: step, seconds: stepTimeout.seconds) }
            let missing = slots.indices.filter { pending[$0] == nil }.compactMap { slots[$0]?.rank }
            return .stepTimeout(step: step, missingRanks: missing, seconds: stepTimeout.seconds)
        case .async:
            let behind = slots.indices.filter { slotSteps[$0] < asyncTotalSteps }
            let missing = behind.compactMap { slots[$0]?.rank }
            if missing.isEmpty { return .vacantRanks(count: behind.count, seconds: stepTimeout.seconds) }
            return .stepTimeout(step: behind.map { slotSteps[$0] }.min() ?? 0, missingRanks: missing, seconds: stepTimeout.seconds)
        }
    }

    /// Validates and acts on one received message; throws only when a worker taking part reports a failure.
    private func handle(_ frames: [ReceivedFrame]) throws {
        let identity: [UInt8], message: WireMessage
        do {
            (identity, message) = try WireMessage.decodeRouted(
                frames: frames, expectedFingerprint: fingerprint, parameterCount: weights.values.count)
        } catch {
            peerLog("parameter server: dropped a message: \(error)")
            if case .versionMismatch = error, let peer = frames.first, (1...255).contains(peer.count) {
                send(.error(reason: error.description), to: peer.bytes)
            }
            return
        }
        let slot = slots.firstIndex { $0?.identity == identity }
        let joiner = joiners.firstIndex { $0.identity == identity }
        let now = ContinuousClock.now
        if let slot { slots[slot]!.lastHeard = now }
        if let joiner { joiners[joiner].lastHeard = now }
        trace?("parameter server: ← \(name(of: identity)): \(message.type) step \(message.step), "
               + "\(frames.dropFirst().reduce(0) { $0 + $1.count }) bytes")
        switch message.body {
        case .hello:
            send(.setup(Setup(configuration: configuration, dataset: dataset)), to: identity)
        case .join(let description):
            join(identity, description: description, slot: slot, isJoiner: joiner != nil)
        case .pushGradient(let push):
            if let slot {
                accept(push, from: slot, message: message)
            } else if joiner == nil && !takeBack(identity) {
                peerLog("parameter server: dropped a push-gradient from a peer that has not joined")
            }
        case .heartbeat:
            if slot == nil && joiner == nil { _ = takeBack(identity) }
        case .error(let reason):
            peerLog("parameter server: \(slot.flatMap { slots[$0] }.map { "rank \($0.rank)" } ?? "an unjoined peer") reports: \(reason)")
            if let slot, let rank = slots[slot]?.rank { throw ClusterError.peerFailed(rank: rank, reason: reason) }
        default:
            peerLog("parameter server: dropped an unexpected \(message.type) message")
        }
    }

    /// Checks a push against its worker's step and slice, then holds it for the step (sync) or applies it (async).
    private func accept(_ push: GradientPush, from slot: Int, message: WireMessage) {
        let rank = slots[slot]!.rank
        guard Int(message.sender) == rank else {
            peerLog("parameter server: dropped a push-gradient from rank \(rank) claiming sender \(message.sender)")
            return
        }
        switch configuration.mode {
        case .sync: acceptSync(push, from: slot, message: message)
        case .async: acceptAsync(push, from: slot, message: message)
        }
    }

    /// One optimiser step with `gradient`, written into a fresh buffer that becomes the current weights.
    func updateWeights() {
        let next = snapshots.acquire()
        gradient.withUnsafeBufferPointer { optimizer.step(from: weights.values, into: next.buffer, gradients: $0) }
        weights = next
        updates += 1
    }

    /// Sends `body` to every worker taking part or waiting to (one weights snapshot serves them all, without copies).
    func broadcast(_ body: MessageBody, step: Int? = nil) {
        for member in slots.compactMap({ $0 }) + joiners { send(body, to: member.identity, step: step) }
    }

    /// Sends `body` to the peer `identity`, tagged with `step` (by default the sync step).
    func send(_ body: MessageBody, to identity: [UInt8], step: Int? = nil) {
        let message = WireMessage(sender: MessageHeader.serverSender, step: UInt64(step ?? self.step),
                                  fingerprint: fingerprint, body: body)
        trace?("parameter server: → \(name(of: identity)): \(message.type) step \(message.step), \(message.payloadByteCount) bytes")
        let now = ContinuousClock.now
        if let slot = slots.firstIndex(where: { $0?.identity == identity }) { slots[slot]!.lastSent = now }
        pump.send(message.encoded(to: identity))
    }

    /// How logs name a peer: by rank once it has one.
    func name(of identity: [UInt8]) -> String {
        if let member = slots.first(where: { $0?.identity == identity }) ?? joiners.first(where: { $0.identity == identity }) {
            return "rank \(member.rank)"
        }
        return "a new peer"
    }

    static func describe(_ description: DatasetDescription) -> String {
        "\"\(description.name)\" with \(description.trainCount) training and \(description.testCount) test samples "
            + "(checksum \(description.checksum))"
    }
}

/// A stop asked for from outside the actor (a signal handler), read by its run loop.
private final class StopRequest: @unchecked Sendable {
    // Unchecked: `stored` is guarded by `lock`.
    private let lock = NSLock()
    private var stored: String?

    var reason: String? { lock.withLock { stored } }

    func set(_ reason: String) { lock.withLock { if stored == nil { stored = reason } } }
}
