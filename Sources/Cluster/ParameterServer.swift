import Datasets
import Engine
import Foundation
import ZeroMQ

/// The parameter server of data-parallel training: it owns the flat weights and the optimiser state,
/// welcomes `worldSize` workers over a ROUTER socket and applies their gradients.
///
/// In sync mode each step averages one gradient per rank (weighted by sample count), applies one
/// optimiser step and sends every rank the same new weights. In async mode each gradient is applied
/// as it arrives and only its sender gets the newest weights back.
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
    /// The number of workers training waits for.
    public nonisolated let worldSize: Int
    /// The model fingerprint every message must carry.
    public nonisolated let fingerprint: UInt64

    private let pump: SocketPump
    private let mailbox: Mailbox
    private let stopRequest = StopRequest()
    private let stateFile: String?
    private let checkpointEvery: Int
    /// Admits only listed workers when the server runs CURVE; it must live as long as the socket.
    private let zap: ZAPHandler?

    /// The actor runs on its socket's pump thread, so receiving, computing and sending need no thread hop.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { pump.unownedExecutor }
    private let plan: ShardPlan
    private let optimizer: any Optimizer
    /// The steps each rank takes: all of the epochs', or `maxSteps` if fewer.
    private let totalSteps: Int
    private let joinTimeout: Duration
    private let stepTimeout: Duration
    private let log: @Sendable (String) -> Void
    /// The lines peers cause (drops, refusals, rejections), rate-limited.
    private let peerLog: ThrottledLog
    private let trace: (@Sendable (String) -> Void)?
    private let onEpochEnd: (@Sendable (EpochSummary) -> Void)?

    /// The current weights: each update writes a fresh buffer from the pool, so the buffer sent to the
    /// workers (zero-copy) is never written while it is on its way.
    private var weights: WeightSnapshots.Snapshot
    private let snapshots: WeightSnapshots
    /// Reused every update: the sample-weighted mean gradient (sync), or one push's gradient read out of its frame (async).
    private var gradient: [Float]
    private var identities: [[UInt8]] = []
    /// The optimiser updates applied so far.
    private var updates = 0
    /// The next step each rank pushes (in sync mode all ranks share it).
    private var rankSteps: [Int]
    /// Pushes rejected for NaN or infinity so far.
    private var rejectedPushes = 0
    /// The update count when each rank was last sent weights (async staleness).
    private var sentAtUpdate: [Int]
    /// Sync mode: the gradients of the current step and when each arrived.
    private var pending: [(push: GradientPush, arrival: ContinuousClock.Instant)?]
    /// Per-epoch accounting (0-based epoch index), reported in order as epochs complete.
    private var epochs: [Int: EpochProgress] = [:]
    private var nextEpochToReport = 0
    /// When the epoch being timed started: the last join, then the end of each epoch's report.
    private var epochClock: ContinuousClock.Instant?

    /// What has been pushed and applied in one epoch so far.
    private struct EpochProgress {
        var pushes = 0
        var lossSum = 0.0
        var samples = 0
        var updates = 0
        var updateSeconds = 0.0
        var ranks: [RankStatistics]
    }

    /// Binds a ROUTER socket at `endpoint` and prepares training from `weights` (the model's flat
    /// parameters) for `configuration.epochs` epochs, or `maxSteps` steps per rank if that is fewer;
    /// calls `onEpochEnd` on the actor after each epoch's last update, and `trace` (when given) with a
    /// line per message sent or received (type, step, size; never the payload). With `security` the
    /// socket is a CURVE server and a ZAP handler on `context` admits only the listed workers. With
    /// `stateFile` (sync mode) it writes its whole state there every `checkpointEvery` steps (0: never),
    /// at each epoch end and when stopped; `resume` starts from such a state instead of from `weights`.
    /// Lines about dropped, refused or rejected messages are logged at most `peerLinesPerSecond` a
    /// second (nil: all), the rest summarised.
    public init(
        context: Context, bind endpoint: String, weights: [Float], fingerprint: UInt64,
        configuration: TrainingConfiguration, dataset: DatasetDescription, worldSize: Int, maxSteps: Int? = nil,
        joinTimeout: Duration = .seconds(60), stepTimeout: Duration = .seconds(60),
        security: ServerSecurity? = nil, stateFile: String? = nil, checkpointEvery: Int = 0, resume: ServerState? = nil,
        peerLinesPerSecond: Int? = 20,
        log: @escaping @Sendable (String) -> Void = ParameterServer.standardError,
        trace: (@Sendable (String) -> Void)? = nil,
        onEpochEnd: (@Sendable (EpochSummary) -> Void)? = nil
    ) throws {
        precondition(worldSize > 0, "a parameter server needs at least one worker")
        if let resume {
            try Self.check(resume, configuration: configuration, dataset: dataset, fingerprint: fingerprint,
                           parameterCount: weights.count, worldSize: worldSize)
        }
        if stateFile != nil && configuration.mode != .sync {
            throw ClusterError.cannotResume("a state file is written in sync mode only")
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
        self.joinTimeout = joinTimeout
        self.stepTimeout = stepTimeout
        self.log = log
        self.peerLog = peerLog
        self.trace = trace
        self.onEpochEnd = onEpochEnd
        self.stateFile = stateFile
        self.checkpointEvery = checkpointEvery
        let plan = ShardPlan(sampleCount: dataset.trainCount, workerCount: worldSize,
                             batchSizePerWorker: configuration.batchSizePerWorker)
        self.plan = plan
        totalSteps = min(maxSteps ?? .max, plan.stepsPerEpoch * configuration.epochs)
        rankSteps = [Int](repeating: 0, count: worldSize)
        sentAtUpdate = [Int](repeating: 0, count: worldSize)
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
            rankSteps = [Int](repeating: resume.step, count: worldSize)
            updates = resume.updates
            let epoch = resume.step / plan.stepsPerEpoch
            nextEpochToReport = epoch
            epochs[epoch] = EpochProgress(pushes: resume.epochPushes, lossSum: resume.epochLossSum, samples: resume.epochSamples,
                                          updates: resume.epochUpdates, ranks: .init(repeating: RankStatistics(), count: worldSize))
            log("parameter server: resumed at step \(resume.step) (epoch \(epoch + 1), \(resume.updates) updates)")
        }
    }

    /// Throws unless `state` belongs to this configuration, data, model and world size.
    private static func check(_ state: ServerState, configuration: TrainingConfiguration, dataset: DatasetDescription,
                              fingerprint: UInt64, parameterCount: Int, worldSize: Int) throws {
        guard state.configuration.mode == .sync else { throw ClusterError.cannotResume("only sync runs can be resumed") }
        guard state.configuration == configuration else { throw ClusterError.cannotResume("the training configuration differs") }
        guard state.dataset == dataset else { throw ClusterError.cannotResume("the data set differs") }
        guard state.fingerprint == fingerprint, state.weights.count == parameterCount else {
            throw ClusterError.cannotResume("the model differs")
        }
        guard state.worldSize == worldSize else {
            throw ClusterError.cannotResume("it was saved with \(state.worldSize) workers, not \(worldSize)")
        }
    }

    /// Writes a log line to standard error.
    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The current weights (the final ones once `run()` has returned).
    public var currentWeights: [Float] { Array(weights.values) }

    /// The number of optimiser updates applied so far (in sync mode, the number of steps with an update).
    public var completedSteps: Int { updates }

    /// The number of pushes rejected because their loss or gradient held NaN or infinity.
    public var rejectedGradients: Int { rejectedPushes }

    /// Welcomes the workers, trains until every rank has taken its last step (each gets stop) and
    /// returns the final weights; on a timeout or a worker's failure it sends every rank an error and throws.
    public func run() async throws -> [Float] {
        let joinDeadline = ContinuousClock.now + joinTimeout
        var stepDeadline = joinDeadline
        do {
            while !rankSteps.allSatisfy({ $0 >= totalSteps }) {
                let allJoined = identities.count == worldSize
                let frames = await mailbox.next(before: allJoined ? stepDeadline : joinDeadline)
                if let reason = stopRequest.reason {
                    broadcast(.stop)
                    log("parameter server: stopped by \(reason) after \(updates) updates; told every worker to stop")
                    saveState()
                    return Array(weights.values)
                }
                guard let frames else { throw timeoutError() }
                if try handle(frames) || (!allJoined && identities.count == worldSize) {
                    stepDeadline = ContinuousClock.now + stepTimeout
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
        if identities.count < worldSize {
            return .joinTimeout(joined: identities.count, expected: worldSize, seconds: joinTimeout.seconds)
        }
        let missing: [Int]
        switch configuration.mode {
        case .sync: missing = pending.indices.filter { pending[$0] == nil }
        case .async: missing = rankSteps.indices.filter { rankSteps[$0] < totalSteps }
        }
        return .stepTimeout(step: rankSteps.min() ?? 0, missingRanks: missing, seconds: stepTimeout.seconds)
    }

    /// Validates and acts on one received message; returns whether training progressed (a gradient
    /// was applied), and throws only when a joined worker reports a failure.
    private func handle(_ frames: [ReceivedFrame]) throws -> Bool {
        let identity: [UInt8], message: WireMessage
        do {
            (identity, message) = try WireMessage.decodeRouted(
                frames: frames, expectedFingerprint: fingerprint, parameterCount: weights.values.count)
        } catch {
            peerLog("parameter server: dropped a message: \(error)")
            if case .versionMismatch = error, let peer = frames.first, (1...255).contains(peer.count) {
                send(.error(reason: error.description), to: peer.bytes)
            }
            return false
        }
        let rank = identities.firstIndex(of: identity)
        trace?("parameter server: ← \(rank.map { "rank \($0)" } ?? "a new peer"): \(message.type) step \(message.step), "
               + "\(frames.dropFirst().reduce(0) { $0 + $1.count }) bytes")
        switch message.body {
        case .hello:
            send(.setup(Setup(configuration: configuration, dataset: dataset)), to: identity)
        case .join(let description):
            join(identity, description: description, existingRank: rank)
        case .pushGradient(let push):
            guard let rank else {
                peerLog("parameter server: dropped a push-gradient from a peer that has not joined")
                return false
            }
            return accept(push, from: rank, message: message)
        case .error(let reason):
            peerLog("parameter server: \(rank.map { "rank \($0)" } ?? "an unjoined peer") reports: \(reason)")
            if let rank { throw ClusterError.peerFailed(rank: rank, reason: reason) }
        case .heartbeat:
            break
        default:
            peerLog("parameter server: dropped an unexpected \(message.type) message")
        }
        return false
    }

    /// Checks a push against the rank's step and shard, then applies it (async) or holds it until
    /// every rank's gradient of the step is in (sync).
    private func accept(_ push: GradientPush, from rank: Int, message: WireMessage) -> Bool {
        guard Int(message.sender) == rank else {
            peerLog("parameter server: dropped a push-gradient from rank \(rank) claiming sender \(message.sender)")
            return false
        }
        let step = rankSteps[rank]
        guard message.step == UInt64(step), step < totalSteps else {
            peerLog("parameter server: dropped a push-gradient of rank \(rank) for step \(message.step) (expected step \(step))")
            return false
        }
        let expected = plan.positions(step: step % plan.stepsPerEpoch, rank: rank).count
        guard push.sampleCount == expected else {
            peerLog("parameter server: dropped a push-gradient of rank \(rank) with \(push.sampleCount) samples, expected \(expected)")
            return false
        }
        switch configuration.mode {
        case .sync:
            guard pending[rank] == nil else {
                peerLog("parameter server: dropped a second push-gradient of rank \(rank) for step \(step)")
                return false
            }
            pending[rank] = (push, .now)
            guard pending.allSatisfy({ $0 != nil }) else { return false }
            applySync(step: step)
        case .async:
            applyAsync(push, from: rank, step: step)
        }
        return true
    }

    /// Sync mode: averages the step's gradients weighted by sample count, applies one optimiser step
    /// and sends every rank the new weights, or stop after the last step.
    private func applySync(step: Int) {
        let started = ContinuousClock.now
        let pushes = pending.map { $0!.push }
        // A push whose loss or gradient holds NaN or ±∞ is left out of the step, as if it had no samples.
        var usable = pushes.map { $0.sampleCount > 0 && $0.meanLoss.isFinite }
        var total = zip(pushes, usable).reduce(0) { $0 + ($1.1 ? $1.0.sampleCount : 0) }
        // mean = Σ (nᵣ / n) · gᵣ, read straight from the received frames; the same pass checks finiteness,
        // and a second pass without the rejected pushes runs only when one was found.
        for _ in 0..<2 where total > 0 {
            let finite = gradient.withUnsafeMutableBufferPointer { mean in
                var first = true
                return pushes.indices.map { rank -> Bool in
                    guard usable[rank] else { return true }
                    defer { first = false }
                    return pushes[rank].gradient.scaled(by: Float(pushes[rank].sampleCount) / Float(total), into: mean,
                                                        accumulating: !first)
                }
            }
            if finite.allSatisfy({ $0 }) { break }
            for rank in pushes.indices where !finite[rank] { usable[rank] = false }
            total = zip(pushes, usable).reduce(0) { $0 + ($1.1 ? $1.0.sampleCount : 0) }
        }
        if total > 0 { updateWeights() }
        let epoch = step / plan.stepsPerEpoch
        for rank in 0..<worldSize {
            let rejected = pushes[rank].sampleCount > 0 && !usable[rank]
            record(pushes[rank], rank: rank, epoch: epoch, wait: (started - pending[rank]!.arrival).seconds, rejected: rejected)
        }
        pending = .init(repeating: nil, count: worldSize)
        for rank in 0..<worldSize { rankSteps[rank] = step + 1 }
        if step + 1 < totalSteps {
            // Tagged with the step the workers compute next.
            broadcast(.weights(snapshot()), step: step + 1)
        } else {
            broadcast(.stop, step: step + 1)
        }
        epochs[epoch]!.updateSeconds += (ContinuousClock.now - started).seconds
        if total > 0 { epochs[epoch]!.updates += 1 }
        reportFinishedEpochs()
        let done = step + 1
        if (checkpointEvery > 0 && done % checkpointEvery == 0) || done % plan.stepsPerEpoch == 0 { saveState() }
    }

    /// The state to resume from after the steps done so far (sync mode).
    public var state: ServerState {
        let step = rankSteps.min() ?? 0
        let progress = epochs[step / plan.stepsPerEpoch]
        return ServerState(
            configuration: configuration, dataset: dataset, fingerprint: fingerprint, worldSize: worldSize, step: step,
            updates: updates, optimizerStepCount: optimizer.stepCount, epochPushes: progress?.pushes ?? 0,
            epochLossSum: progress?.lossSum ?? 0, epochSamples: progress?.samples ?? 0, epochUpdates: progress?.updates ?? 0,
            weights: Array(weights.values),
            optimizerBuffers: Dictionary(uniqueKeysWithValues: optimizer.stateBuffers.map { ($0.name, $0.values) }))
    }

    /// Writes the state file, if there is one; a failure is logged, and training goes on.
    private func saveState() {
        guard let stateFile, configuration.mode == .sync else { return }
        do {
            try state.write(to: stateFile)
        } catch {
            log("parameter server: could not save the state: \(error)")
        }
    }

    /// Async mode: applies one rank's gradient at once, weighted by its share of its global batch, and
    /// sends that rank the newest weights, or stop after its last step.
    private func applyAsync(_ push: GradientPush, from rank: Int, step: Int) {
        let started = ContinuousClock.now
        let staleness = updates - sentAtUpdate[rank]
        var rejected = push.sampleCount > 0 && !push.meanLoss.isFinite
        if push.sampleCount > 0 && !rejected {
            // The push's share of its global batch, nᵣ / Σn as sync weights it: a round of N pushes moves the
            // weights as far as one sync step, only each on the newest weights.
            let share = Float(push.sampleCount) / Float(plan.globalPositions(step: step % plan.stepsPerEpoch).count)
            let finite = gradient.withUnsafeMutableBufferPointer { push.gradient.scaled(by: share, into: $0, accumulating: false) }
            if finite { updateWeights() } else { rejected = true }
        }
        let epoch = step / plan.stepsPerEpoch
        record(push, rank: rank, epoch: epoch, wait: 0, rejected: rejected)
        epochs[epoch]!.ranks[rank].stalenessSum += staleness
        epochs[epoch]!.ranks[rank].maxStaleness = max(epochs[epoch]!.ranks[rank].maxStaleness, staleness)
        sentAtUpdate[rank] = updates
        rankSteps[rank] = step + 1
        if step + 1 < totalSteps {
            send(.weights(snapshot()), to: identities[rank], step: step + 1)
        } else {
            send(.stop, to: identities[rank], step: step + 1)
        }
        epochs[epoch]!.updateSeconds += (ContinuousClock.now - started).seconds
        if push.sampleCount > 0 && !rejected { epochs[epoch]!.updates += 1 }
        reportFinishedEpochs()
    }

    /// One optimiser step with `gradient`, written into a fresh buffer that becomes the current weights.
    private func updateWeights() {
        let next = snapshots.acquire()
        gradient.withUnsafeBufferPointer { optimizer.step(from: weights.values, into: next.buffer, gradients: $0) }
        weights = next
        updates += 1
    }

    /// The current weights as a zero-copy payload (later updates write other buffers).
    private func snapshot() -> FloatPayload {
        weights.payload
    }

    /// Adds one push to its epoch's accounting; a rejected one counts as a push without samples.
    private func record(_ push: GradientPush, rank: Int, epoch: Int, wait: Double, rejected: Bool) {
        var progress = epochs[epoch] ?? EpochProgress(ranks: .init(repeating: RankStatistics(), count: worldSize))
        progress.pushes += 1
        progress.ranks[rank].pushes += 1
        progress.ranks[rank].waitSeconds += wait
        if rejected {
            progress.ranks[rank].rejected += 1
            rejectedPushes += 1
            peerLog("parameter server: rejected the gradient of rank \(rank) for step \(rankSteps[rank]): its loss or gradient holds "
                + "NaN or infinity; not applied (\(rejectedPushes) rejected so far)")
        } else {
            progress.lossSum += push.meanLoss * Double(push.sampleCount)
            progress.samples += push.sampleCount
            progress.ranks[rank].samples += push.sampleCount
        }
        epochs[epoch] = progress
    }

    /// Calls `onEpochEnd` for every epoch, in order, whose pushes from all ranks are in.
    private func reportFinishedEpochs() {
        while let progress = epochs[nextEpochToReport], progress.pushes == worldSize * plan.stepsPerEpoch {
            epochs[nextEpochToReport] = nil
            nextEpochToReport += 1
            let now = ContinuousClock.now
            log("parameter server: epoch \(nextEpochToReport) done after \(updates) updates")
            onEpochEnd?(EpochSummary(
                epoch: nextEpochToReport, weights: Array(weights.values),
                trainLoss: progress.samples > 0 ? progress.lossSum / Double(progress.samples) : 0,
                samples: progress.samples, seconds: (now - (epochClock ?? now)).seconds, updates: progress.updates,
                updateSeconds: progress.updateSeconds, ranks: progress.ranks))
            // The report (evaluation, checkpoint) is not training time.
            epochClock = .now
        }
    }

    /// Welcomes a worker whose data matches, or refuses it with a reason.
    private func join(_ identity: [UInt8], description: DatasetDescription, existingRank: Int?) {
        guard description == dataset else {
            let reason = "data set differs: the server has \(Self.describe(dataset)), the worker has \(Self.describe(description))"
            peerLog("parameter server: refused a worker: \(reason)")
            send(.error(reason: reason), to: identity)
            return
        }
        if let existingRank {
            // A worker that gave up waiting (and tries to reconnect) joins again on its old connection:
            // welcome it back at its step. A push it already made for that step counts; a repeat is dropped.
            peerLog("parameter server: rank \(existingRank) joined again; welcomed back at step \(rankSteps[existingRank])")
            sentAtUpdate[existingRank] = updates
            send(.welcome(Welcome(rank: existingRank, worldSize: worldSize, configuration: configuration, weights: snapshot())),
                 to: identity, step: rankSteps[existingRank])
            return
        }
        guard identities.count < worldSize else {
            let reason = "all \(worldSize) ranks are taken"
            peerLog("parameter server: refused a worker: \(reason)")
            send(.error(reason: reason), to: identity)
            return
        }
        let rank = identities.count
        identities.append(identity)
        sentAtUpdate[rank] = updates
        log("parameter server: rank \(rank) of \(worldSize) joined")
        if identities.count == worldSize { epochClock = .now }
        send(.welcome(Welcome(rank: rank, worldSize: worldSize, configuration: configuration, weights: snapshot())),
             to: identity, step: rankSteps[rank])
    }

    /// Sends `body` to every joined rank (one weights snapshot serves them all, without copies).
    private func broadcast(_ body: MessageBody, step: Int? = nil) {
        for identity in identities { send(body, to: identity, step: step) }
    }

    private func send(_ body: MessageBody, to identity: [UInt8], step: Int? = nil) {
        let message = WireMessage(sender: MessageHeader.serverSender, step: UInt64(step ?? rankSteps.min() ?? 0),
                                  fingerprint: fingerprint, body: body)
        if let trace {
            let rank = identities.firstIndex(of: identity).map { "rank \($0)" } ?? "a new peer"
            trace("parameter server: → \(rank): \(message.type) step \(message.step), \(message.payloadByteCount) bytes")
        }
        pump.send(message.encoded(to: identity))
    }

    private static func describe(_ description: DatasetDescription) -> String {
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
