import Datasets
import Engine
import Foundation
import Logging
import Transport

/// What a worker trains with: its model replica and its copy of the data, built from the server's configuration.
public struct Replica {
    /// The model, built as the configuration says (the server checks its fingerprint and size).
    public var model: Model
    /// The worker's training set; the server refuses the worker if it differs from its own.
    public var trainingSet: LabeledDataset
    /// The number of test samples the worker found (part of the data's description).
    public var testCount: Int
    /// How the model's output is scored.
    public var objective: Objective

    /// A replica with every part given.
    public init(model: Model, trainingSet: LabeledDataset, testCount: Int, objective: Objective) {
        self.model = model
        self.trainingSet = trainingSet
        self.testCount = testCount
        self.objective = objective
    }
}

/// A worker of data-parallel training: it connects a DEALER socket to a `ParameterServer`, asks what
/// is trained (hello → setup), builds its replica and loads its data, joins, and at each step pushes
/// the mean gradient of its shard of the global batch and waits for the next weights, until the
/// server says stop. The same code serves sync and async mode: only the server's replies differ.
///
/// The actor runs on its transport's dedicated thread (its serial executor), which receives and
/// sends; each step's forward and backward pass runs on a compute thread of the worker's own, which
/// the actor awaits while it goes on sending heartbeats, so a step of any length never looks like
/// death to the server. Neither thread is Swift's cooperative pool. Every wait for the server has a deadline.
public actor Worker {
    /// The worker's connection to the server (a DEALER-like transport).
    private let transport: any MessageTransport
    /// The protocol's verbs over `transport`.
    let client: ParameterClient
    /// Where the steps are computed, off the transport's thread.
    let computeThread = SerialThread(name: "worker-compute")

    /// The actor runs on its transport's thread, so receiving, computing and sending need no thread hop.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { transport.unownedExecutor }
    private let prepare: @Sendable (TrainingConfiguration) throws -> Replica
    private let timeout: Duration
    let reconnectTimeout: Duration
    /// Where the worker's lines go.
    var logger: Logger
    /// The rank, slot and world size of the last welcome, to log a change.
    private var assignedSlice: (rank: Int, slot: Int, worldSize: Int)?
    /// The codecs the worker was told to expect (nil: whatever the server's run uses).
    private let expectedCodecs: (compress: CodecChoice?, compressWeights: CodecChoice?)
    /// In overlap runs, the fewest values a gradient-part carries.
    private let minimumPartValues: Int
    /// The settings, which the clients of shards 1…S−1 share.
    let settings: Settings
    /// Opens a connection to another server shard at an address (nil: this worker talks to one server).
    let connect: (@Sendable (String) throws -> any MessageTransport)?
    /// The clients of shards 1…S−1 in sharded runs, in shard order, and their transports.
    var followers: [ParameterClient] = []
    let followerTransports = FollowerTransports()

    /// Talks to the server (shard 0 of sharded runs) over `transport` as `settings` say, and to the
    /// other shards of a sharded run over the transports `connect` opens to their addresses; `prepare`
    /// builds the replica from the server's configuration.
    public init(transport: any MessageTransport, settings: Settings = Settings(),
                connect: (@Sendable (String) throws -> any MessageTransport)? = nil,
                prepare: @escaping @Sendable (TrainingConfiguration) throws -> Replica) {
        self.transport = transport
        self.settings = settings
        self.connect = connect
        self.client = ParameterClient(transport: transport, settings: settings)
        self.prepare = prepare
        self.timeout = settings.timeout
        self.reconnectTimeout = settings.reconnectTimeout
        self.logger = settings.logger
        self.expectedCodecs = (settings.compress, settings.compressWeights)
        self.minimumPartValues = settings.minimumPartValues
    }

    /// The rank the server gave this worker, once welcomed.
    public var assignedRank: Int? { client.rank }

    /// Asks for the set-up, prepares, joins and trains until the server sends stop; returns what the
    /// worker did. Throws if preparing fails, the server refuses the worker, reports a failure or does
    /// not answer in time (the server hears of the worker's own failures).
    public func run() async throws -> WorkerStatistics {
        var statistics: WorkerStatistics?
        var prepared: (configuration: TrainingConfiguration, replica: Replica)?
        var reconnectDeadline: ContinuousClock.Instant?
        while true {
            do {
                let setup = try await handshake(deadline: reconnectDeadline ?? .now + timeout, reconnecting: reconnectDeadline != nil)
                try checkCodecs(of: setup.configuration)
                if let prepared, prepared.configuration != setup.configuration {
                    throw ClusterError.refused(reason: "the server came back with another training configuration")
                }
                if prepared == nil {
                    do {
                        prepared = (setup.configuration, try prepare(setup.configuration))
                    } catch {
                        client.reportError("the worker cannot start: \(error)")
                        throw error
                    }
                }
                reconnectDeadline = nil
                return try await train(prepared!.replica, statistics: &statistics)
            } catch ClusterError.noReply(let expecting, let seconds) where reconnectTimeout > .zero && client.rank != nil {
                // The server went silent after this worker had joined: it may be restarting from its state.
                if reconnectDeadline != nil { throw ClusterError.serverLost(seconds: reconnectTimeout.seconds) }
                logger.warning("worker: no \(expecting) from the server within \(seconds) s; reconnecting for up to \(reconnectTimeout.seconds) s")
                reconnectDeadline = .now + reconnectTimeout
            }
        }
    }

    /// Throws, and tells the server, when the worker was told to expect other codecs than `configuration` has.
    private func checkCodecs(of configuration: TrainingConfiguration) throws {
        var differences: [String] = []
        if let compress = expectedCodecs.compress, compress != configuration.compress {
            differences.append("the worker has --compress \(compress), the server's run \(configuration.compress)")
        }
        if let weights = expectedCodecs.compressWeights, weights != configuration.compressWeights {
            differences.append("the worker has --compress-weights \(weights), the server's run \(configuration.compressWeights)")
        }
        guard !differences.isEmpty else { return }
        let detail = differences.joined(separator: "; ")
        client.reportError("the worker cannot take part: it disagrees on compression: \(detail)")
        throw ClusterError.codecMismatch(detail)
    }

    /// Sends hello and waits for setup until `deadline`; while reconnecting, says hello again with
    /// growing pauses (0.5 s doubling to 5 s), in case a hello went down with the old connection.
    private func handshake(deadline: ContinuousClock.Instant, reconnecting: Bool) async throws -> Setup {
        var pause = Duration.milliseconds(500)
        while true {
            client.hello()
            let attemptEnd = reconnecting ? min(deadline, .now + pause) : deadline
            do {
                return try await client.awaitSetup(deadline: attemptEnd)
            } catch ClusterError.noReply where reconnecting && ContinuousClock.now < deadline {
                pause = min(pause * 2, .seconds(5))
            }
        }
    }

    /// Joins with a prepared replica and trains until stop, adding to `statistics`.
    private func train(_ replica: Replica, statistics: inout WorkerStatistics?) async throws -> WorkerStatistics {
        let model = replica.model, trainingSet = replica.trainingSet
        let description = DatasetDescription(describing: trainingSet, testCount: replica.testCount)
        client.join(description)
        guard let (header, welcome) = try await client.awaitWelcome(fingerprint: model.fingerprint) else {
            // Training ended while the worker waited for a place (`assignedRank` stays nil).
            return statistics ?? WorkerStatistics(rank: -1, pushes: 0, samples: 0, computeSeconds: 0, exchangeSeconds: 0)
        }
        var assignment = try accept(welcome, step: header.step, fingerprint: header.fingerprint, model: model,
                                    sampleCount: trainingSet.count)
        let configuration = welcome.configuration
        let ranges = Self.shardRanges(configuration, parameterCount: model.parameterCount)
        assignment.shardWeights = try await joinFollowers(configuration, description: description, assignment: assignment,
                                                          model: model, ranges: ranges)
        let criterion = Criterion(replica.objective)
        let batchSize = configuration.batchSizePerWorker
        let loader = DataLoader(trainingSet, batchSize: batchSize, shuffle: true, seed: configuration.seed)
        if statistics == nil {
            statistics = WorkerStatistics(rank: welcome.rank, pushes: 0, samples: 0, computeSeconds: 0, exchangeSeconds: 0)
        }
        if configuration.mode == .localSGD {
            return try await trainLocally(replica, from: assignment, configuration: configuration, statistics: &statistics!)
        }
        var order: (epoch: Int, positions: [Int32])?
        /// The batch of this worker's slice at `cursor`: nil when the slice is empty.
        func batch(at cursor: EpochCursor, of assignment: Assignment) -> Batch? {
            if order?.epoch != cursor.epoch {
                order = (cursor.epoch, DataLoader.order(count: trainingSet.count, seed: configuration.seed, epoch: cursor.epoch + 1))
            }
            let positions = cursor.positions(slot: assignment.slot, worldSize: assignment.worldSize)
            return positions.isEmpty ? nil : loader.gather(positions, order: order?.positions)
        }
        // The next step's batch, gathered while the server works (the loader's tensors are free again
        // once the gradient is computed).
        var prefetched: (step: Int, batch: Batch?)?
        while true {
            let computeStart = ContinuousClock.now
            statistics!.rank = assignment.rank
            let stepBatch = prefetched?.step == assignment.step ? prefetched!.batch : batch(at: assignment.cursor, of: assignment)
            prefetched = nil
            let push: GradientPush
            let isEndOfEpoch = assignment.cursor.isLastStepOfEpoch(worldSize: assignment.worldSize)
            // Overlap runs send the gradient's last layers while backward computes the first ones.
            let progress = configuration.overlapPushes && stepBatch != nil
                ? BackwardProgress(count: model.parameterCount, minimumPart: minimumPartValues, wake: { [transport] in transport.interrupt() })
                : nil
            let step = GradientStep(model: model, weights: zip(ranges, [assignment.weights] + assignment.shardWeights).map { ($0, $1) },
                                    batch: stepBatch, criterion: criterion, progress: progress)
            // Zero-copy: the model's gradient buffer is next written at the following step, which starts
            // only after the server has answered, and the server drops its frames (inproc) or libzmq has
            // written them (tcp, ipc) before it answers; a part's range is final when it is sent. `owner`
            // keeps the memory alive.
            let gradients = UnsafeBufferPointer(model.gradients), owner = ModelOwner(model)
            func sendParts() {
                while let range = progress?.takeRange() {
                    client.push(GradientPart(offset: range.lowerBound, values: .borrowed(UnsafeBufferPointer(rebasing: gradients[range]), owner: owner)),
                                step: assignment.step, rank: assignment.rank, fingerprint: model.fingerprint)
                }
            }
            let loss = await client.compute(on: computeThread, heartbeat: (UInt32(assignment.rank), model.fingerprint),
                                            whileWaiting: sendParts) { step.run() }
            // The parts cut when backward ended before this thread took them.
            sendParts()
            if let batch = stepBatch {
                let first = progress?.untaken ?? ranges[0].count
                push = GradientPush(sampleCount: batch.count, meanLoss: Double(loss), isEndOfEpoch: isEndOfEpoch,
                                    gradient: .borrowed(UnsafeBufferPointer(rebasing: gradients[0..<first]), owner: owner),
                                    restSentInParts: first < ranges[0].count)
            } else {
                push = GradientPush(sampleCount: 0, meanLoss: 0, isEndOfEpoch: isEndOfEpoch, gradient: .array([]))
            }
            // On the transport's thread this hands the frames to the socket at once.
            client.push(push, step: assignment.step, rank: assignment.rank, fingerprint: model.fingerprint)
            pushToFollowers(push, gradients: gradients, owner: owner, ranges: ranges, step: assignment.step, rank: assignment.rank,
                            fingerprint: model.fingerprint)
            statistics!.pushes += 1
            statistics!.samples += push.sampleCount
            var next = assignment.cursor
            next.advance(worldSize: assignment.worldSize)
            prefetched = (assignment.step + 1, batch(at: next, of: assignment))
            let prefetchEnd = ContinuousClock.now
            statistics!.computeSeconds += (prefetchEnd - computeStart).seconds
            let reply = try await client.awaitReply(after: assignment.step, rank: assignment.rank, fingerprint: model.fingerprint,
                                             parameterCount: ranges[0].count)
            let shardWeights = try await followerReplies(fitting: reply, after: assignment, next: next, model: model,
                                                         configuration: configuration, ranges: ranges, description: description)
            statistics!.exchangeSeconds += (ContinuousClock.now - prefetchEnd).seconds
            switch reply {
            case .weights(let weights, let nextStep):
                assignment.weights = weights
                assignment.shardWeights = shardWeights ?? []
                assignment.step = nextStep
                assignment.cursor = next
            case .welcome(let welcome, let step, let fingerprint):
                // The workers taking part changed: a new slice (and maybe rank), from the welcome's step.
                assignment = try accept(welcome, step: step, fingerprint: fingerprint, model: model, sampleCount: trainingSet.count)
                assignment.shardWeights = shardWeights ?? []
                if !followers.isEmpty { linkHeartbeats(rank: assignment.rank, fingerprint: model.fingerprint) }
                prefetched = nil
            case .stop:
                return statistics!
            }
        }
    }

    /// The fewest values a gradient-part carries unless the settings say otherwise (64 KiB).
    public static let defaultMinimumPartValues = 16_384

    /// What the worker computes next: its rank and slice, the step and where it starts, and the weights.
    struct Assignment {
        var rank: Int
        var slot: Int
        var worldSize: Int
        var step: Int
        var cursor: EpochCursor
        /// The weights of shard 0's range (all of them with one server).
        var weights: FloatPayload
        /// The weights of shards 1…S−1's ranges, in shard order (empty with one server).
        var shardWeights: [FloatPayload] = []
    }

    /// Checks a welcome against the worker's model and data and turns it into an assignment; tells the
    /// server and throws if they do not fit.
    func accept(_ welcome: Welcome, step: UInt64, fingerprint: UInt64, model: Model, sampleCount: Int) throws -> Assignment {
        let count = Self.shardRanges(welcome.configuration, parameterCount: model.parameterCount)[0].count
        guard model.fingerprint == fingerprint, count == welcome.weights.count else {
            let detail = "fingerprint 0x\(String(model.fingerprint, radix: 16)) with \(count) parameters"
                + (count == model.parameterCount ? "" : " in shard 1 (of \(model.parameterCount))") + ", "
                + "the server's 0x\(String(fingerprint, radix: 16)) with \(welcome.weights.count)"
            client.reportError(detail, sender: UInt32(welcome.rank), fingerprint: model.fingerprint)
            throw ClusterError.modelMismatch(detail)
        }
        guard welcome.offset < sampleCount else {
            let reason = "the welcome starts at sample \(welcome.offset) of an epoch of \(sampleCount)"
            client.reportError(reason, sender: UInt32(welcome.rank), fingerprint: model.fingerprint)
            throw ClusterError.refused(reason: reason)
        }
        if let previous = assignedSlice, previous != (welcome.rank, welcome.slot, welcome.worldSize) {
            let line = "worker: rank \(welcome.rank) now takes slice \(welcome.slot + 1) of \(welcome.worldSize) from step \(step) "
                + "(epoch \(welcome.epoch + 1), sample \(welcome.offset))"
            logger.info("\(line)", metadata: ["step": "\(step)"])
        }
        client.rank = welcome.rank
        client.configure(for: welcome.configuration, parameterCount: count)
        client.received(whole: welcome.weights)
        logger[metadataKey: "rank"] = "\(welcome.rank)"
        assignedSlice = (welcome.rank, welcome.slot, welcome.worldSize)
        let cursor = EpochCursor(sampleCount: sampleCount, batchSizePerWorker: welcome.configuration.batchSizePerWorker,
                                 epoch: welcome.epoch, offset: welcome.offset)
        return Assignment(rank: welcome.rank, slot: welcome.slot, worldSize: welcome.worldSize, step: Int(step),
                          cursor: cursor, weights: welcome.weights)
    }

    /// Closes the socket and returns once it is closed; its last messages leave within the socket's
    /// linger when the context ends (release every socket's owner, then the context, before exiting).
    public nonisolated func close() async {
        await followerTransports.close()
        await transport.close()
    }
}

/// One step's work for the compute thread: load the weights into the model and, with a batch,
/// compute its gradients; returns the batch's mean loss (0 without a batch).
private struct GradientStep: @unchecked Sendable {
    // Unchecked: the model and batch are touched only by the compute thread while the worker awaits
    // the step, and by the worker's thread only before and after it (the hand-offs are the thread's queue lock
    // and the result's lock).
    let model: Model
    /// The weights, as ranges of the flat parameters (one with one server).
    let weights: [(Range<Int>, FloatPayload)]
    let batch: Batch?
    let criterion: Criterion
    /// Told, in overlap runs, where the gradients are final during backward.
    let progress: BackwardProgress?

    func run() -> Float {
        for (range, piece) in weights { _ = piece.copy(into: UnsafeMutableBufferPointer(rebasing: model.parameters[range])) }
        guard let batch else { return 0 }
        guard let progress else { return model.computeGradients(on: batch, criterion: criterion) }
        return model.computeGradients(on: batch, criterion: criterion, finalFrom: progress.finalFrom)
    }
}

/// Keeps a model, and so its gradient buffer, alive while the transport holds a zero-copy frame of it.
private final class ModelOwner: @unchecked Sendable {
    // Unchecked: only kept alive, never used.
    let model: Model
    init(_ model: Model) { self.model = model }
}
