import Datasets
import Foundation
import Logging
import Transport

/// The worker's side of the protocol as verbs over a transport: say hello and await the setup, join
/// and await the welcome, push a gradient and await the next weights, send heartbeats and errors.
///
/// Every wait has a deadline; while taking part (`heartbeat` given to a wait) the client sends a
/// heartbeat whenever it has sent nothing for `heartbeatInterval`, and a wait gives the server up
/// after `heartbeatTimeout` without a message from it; `compute(on:heartbeat:_:)` runs a step on
/// another thread and keeps up the heartbeats meanwhile. It is used on its owner's actor only (the
/// waits run on `isolation`), which is the transport's thread.
final class ParameterClient {
    /// What the server answers a push with.
    enum Reply {
        /// The weights of the next step.
        case weights(FloatPayload, step: Int)
        /// The workers taking part changed: a new welcome, from its step.
        case welcome(Welcome, step: UInt64, fingerprint: UInt64)
        /// Training is over.
        case stop
    }

    let transport: any MessageTransport
    private let timeout: Duration
    private let heartbeatInterval: Duration
    private let heartbeatTimeout: Duration
    /// Where the client's lines go; every message sent or received is a trace line.
    private var logger: Logger
    /// The rank the server gave, once welcomed: it names this worker in trace lines and log metadata.
    var rank: Int? {
        didSet { logger[metadataKey: "rank"] = rank.map { "\($0)" } }
    }
    /// When the client last sent the server anything: a heartbeat is due an interval after it.
    private(set) var lastSent = ContinuousClock.now
    /// The run's push codec with the worker's error feedback; nil when pushes are float32.
    private(set) var pushEncoder: ErrorFeedback?
    /// The worker's replica when weights arrive as deltas; nil when they arrive whole.
    private(set) var replica: WeightDeltaReceiver?
    /// Messages that arrived while a step was computed, in order: the next wait reads them first.
    private var early: [[any IncomingFrame]] = []
    /// Runs each time one of this client's waits wakes: in sharded runs, the other shards' clients
    /// send their heartbeats when due, so a long wait on one shard never looks like death to another.
    var onWake: (() -> Void)?

    /// A client over `transport` with `settings`' deadlines, heartbeats and logger.
    init(transport: any MessageTransport, settings: Worker.Settings) {
        self.transport = transport
        self.timeout = settings.timeout
        self.heartbeatInterval = settings.heartbeatInterval
        self.heartbeatTimeout = settings.heartbeatTimeout
        self.logger = settings.logger
    }

    /// Asks the server what is trained.
    func hello() {
        send(WireMessage(sender: MessageHeader.unassignedSender, body: .hello))
    }

    /// Asks a server shard other than the first for the place `rank`, `slot` that the first gave, from
    /// the first's `step` at `cursor`, with data described by `description`.
    func shardJoin(rank: Int, slot: Int, step: Int, cursor: EpochCursor, _ description: DatasetDescription) {
        let request = ShardJoin(rank: rank, slot: slot, epoch: cursor.epoch, offset: cursor.offset, dataset: description)
        send(WireMessage(sender: MessageHeader.unassignedSender, step: UInt64(step), body: .shardJoin(request)))
    }

    /// Sends a heartbeat if nothing was sent for `heartbeatInterval`.
    func heartbeatIfDue(sender: UInt32, fingerprint: UInt64) {
        if ContinuousClock.now >= lastSent + heartbeatInterval { heartbeat(sender: sender, fingerprint: fingerprint) }
    }

    /// Offers to take part with data described by `description`.
    func join(_ description: DatasetDescription) {
        send(WireMessage(sender: MessageHeader.unassignedSender, body: .join(description)))
    }

    /// Sets up the run's codecs for a model of `parameterCount` floats (kept when they stay the same,
    /// so a new welcome keeps the residual of what was not sent yet).
    func configure(for configuration: TrainingConfiguration, parameterCount: Int) {
        if configuration.compress == .none {
            pushEncoder = nil
        } else if pushEncoder?.codec.name != configuration.compress.codec.name || pushEncoder?.count != parameterCount {
            pushEncoder = ErrorFeedback(codec: configuration.compress.codec, count: parameterCount)
        }
        if configuration.compressWeights == .none {
            replica = nil
        } else if replica?.codec.name != configuration.compressWeights.codec.name || replica?.count != parameterCount {
            replica = WeightDeltaReceiver(codec: configuration.compressWeights.codec, count: parameterCount)
        }
    }

    /// Whole weights arrived (a welcome, a weights message): the replica, if any, becomes them.
    func received(whole weights: FloatPayload) {
        replica?.reset(to: weights)
    }

    /// Pushes the vector of `step` as `rank`; on the transport's thread the frames leave at once.
    /// With a push codec, the vector plus the residual of earlier pushes is encoded, and the
    /// residual becomes what this frame leaves out (whatever the vector is: a gradient, a delta).
    func push(_ push: GradientPush, step: Int, rank: Int, fingerprint: UInt64) {
        var push = push
        if let pushEncoder, push.gradient.count == pushEncoder.count {
            let bytes = push.gradient.withUnsafeFloats { pushEncoder.encodeFrame($0) }
            (push.gradient, push.encodedGradient) = (.array([]), .bytes(bytes))
        }
        send(WireMessage(sender: UInt32(rank), step: UInt64(step), fingerprint: fingerprint, body: .pushGradient(push)))
    }

    /// Sends `part` of the gradient of `step` ahead of the step's push (overlap runs); on the transport's
    /// thread the frames leave at once.
    func push(_ part: GradientPart, step: Int, rank: Int, fingerprint: UInt64) {
        send(WireMessage(sender: UInt32(rank), step: UInt64(step), fingerprint: fingerprint, body: .gradientPart(part)))
    }

    /// Tells the server that this worker failed, and why.
    func reportError(_ reason: String, sender: UInt32 = MessageHeader.unassignedSender, fingerprint: UInt64 = 0) {
        send(WireMessage(sender: sender, fingerprint: fingerprint, body: .error(reason: reason)))
    }

    /// Shows the server that this worker is alive.
    func heartbeat(sender: UInt32, fingerprint: UInt64) {
        send(WireMessage(sender: sender, fingerprint: fingerprint, body: .heartbeat))
    }

    /// The server's setup, awaited until `deadline`; throws if the server refuses or stays silent.
    func awaitSetup(deadline: ContinuousClock.Instant, isolation: isolated (any Actor)? = #isolation) async throws -> Setup {
        while true {
            let message = try await nextMessage(before: deadline, expecting: "setup", fingerprint: nil, parameterCount: nil)
            switch message.body {
            case .setup(let setup): return setup
            case .error(let reason): throw ClusterError.refused(reason: reason)
            default: logger.warning("worker: dropped an unexpected \(message.type) message before setup")
            }
        }
    }

    /// The welcome (with its header) for a model of `fingerprint`, or nil when the server says stop first
    /// (training ended while the worker waited for a place); awaited for `timeout` with heartbeats, which
    /// keep the place of a worker waiting for the next step to take part (until `deadline` when given).
    func awaitWelcome(fingerprint: UInt64, deadline: ContinuousClock.Instant? = nil,
                      isolation: isolated (any Actor)? = #isolation) async throws -> (WireMessage, Welcome)? {
        let deadline = deadline ?? ContinuousClock.now + timeout
        while true {
            let message = try await nextMessage(before: deadline, expecting: "welcome", fingerprint: nil, parameterCount: nil,
                                                heartbeat: (MessageHeader.unassignedSender, fingerprint))
            switch message.body {
            case .welcome(let welcome): return (message, welcome)
            case .stop: return nil
            case .error(let reason): throw ClusterError.fromServer(reason: reason)
            case .setup, .heartbeat: break  // an answer to a repeated hello; the server's heartbeat
            default: logger.warning("worker: dropped an unexpected \(message.type) message before welcome")
            }
        }
    }

    /// The server's answer to the push of `step`: the next weights, a new welcome or stop. Every message
    /// from the server (heartbeats too) shows it is alive; after `heartbeatTimeout` without one, throws `noReply`.
    func awaitReply(after step: Int, rank: Int, fingerprint: UInt64, parameterCount: Int,
                    isolation: isolated (any Actor)? = #isolation) async throws -> Reply {
        while true {
            let message = try await nextMessage(before: .now + heartbeatTimeout, expecting: "weights for step \(step + 1)",
                                                fingerprint: fingerprint, parameterCount: parameterCount,
                                                heartbeat: (UInt32(rank), fingerprint), silence: heartbeatTimeout)
            switch message.body {
            case .weights(let weights):
                received(whole: weights)
                if message.step == UInt64(step + 1) { return .weights(weights, step: step + 1) }
                logger.warning("worker: dropped weights for step \(message.step) while at step \(step)", metadata: ["step": "\(step)"])
            case .weightsDelta(let delta):
                // Every delta moves the replica, as it moved the server's mirror of it.
                guard let replica else {
                    throw unreadable("a weights-delta arrived, but this run's weights are not compressed", rank: rank, fingerprint: fingerprint)
                }
                if let problem = replica.apply(delta) { throw unreadable(problem, rank: rank, fingerprint: fingerprint) }
                if message.step == UInt64(step + 1) { return .weights(replica.payload, step: step + 1) }
                logger.warning("worker: applied a weights-delta for step \(message.step) while at step \(step)", metadata: ["step": "\(step)"])
            case .welcome(let welcome):
                return .welcome(welcome, step: message.step, fingerprint: message.fingerprint)
            case .stop:
                return .stop
            case .error(let reason):
                throw ClusterError.fromServer(reason: reason)
            case .heartbeat:
                break
            default:
                logger.warning("worker: dropped an unexpected \(message.type) message for step \(message.step) while at step \(step)",
                               metadata: ["step": "\(step)"])
            }
        }
    }

    /// Tells the server that its weights cannot be used, and why; the error to throw.
    private func unreadable(_ reason: String, rank: Int, fingerprint: UInt64) -> ClusterError {
        reportError("the worker cannot use the server's weights: \(reason)", sender: UInt32(rank), fingerprint: fingerprint)
        return .unreadableWeights(reason)
    }

    /// Runs `work` on `thread` and returns its result once it is done. Meanwhile the client, on its
    /// owner's thread, sends the server a heartbeat whenever it has sent nothing for `heartbeatInterval`
    /// (with `heartbeat`: sender and model fingerprint) and keeps every message that arrives for the
    /// next wait, so a step of any length never looks like death to the server. `whileWaiting` runs on
    /// the owner's thread each time the wait wakes (a message, a heartbeat due, an interrupt) before the work is done.
    func compute<Result: Sendable>(on thread: SerialThread, heartbeat: (sender: UInt32, fingerprint: UInt64)?,
                                   isolation: isolated (any Actor)? = #isolation, whileWaiting: () -> Void = {},
                                   _ work: @escaping @Sendable () -> Result) async -> Result {
        let outcome = Outcome<Result>()
        let transport = transport
        thread.submit {
            outcome.set(work())
            // Ends the wait below (or, if it has already seen the result, one later wait, which
            // every wait loop takes as a look at its deadline).
            transport.interrupt()
        }
        while true {
            if let result = outcome.value { return result }
            whileWaiting()
            onWake?()
            let wake = heartbeat == nil ? ContinuousClock.now + .seconds(3600) : lastSent + heartbeatInterval
            if let frames = await transport.receive(before: wake, isolation: isolation) {
                early.append(frames)
            } else if transport.isFinished, outcome.value == nil {
                // Nothing more arrives and every wait ends at once: wait for the result instead.
                return await outcome.wait()
            } else if let heartbeat, outcome.value == nil, ContinuousClock.now >= lastSent + heartbeatInterval {
                self.heartbeat(sender: heartbeat.sender, fingerprint: heartbeat.fingerprint)
            }
        }
    }

    private func send(_ message: WireMessage) {
        lastSent = .now
        logger.trace("worker\(rank.map { " \($0)" } ?? ""): → server: \(message.type) step \(message.step), \(message.payloadByteCount) bytes",
                     metadata: ["step": "\(message.step)"])
        transport.send(message.encoded())
    }

    /// The next valid message before `deadline`; invalid ones are logged and dropped. With `heartbeat`
    /// (sender and model fingerprint), sends the server a heartbeat each `heartbeatInterval` of the wait. The error
    /// on the deadline names `silence` (default: `timeout`) as the time waited.
    private func nextMessage(before deadline: ContinuousClock.Instant, expecting: String,
                             fingerprint: UInt64?, parameterCount: Int?, heartbeat: (sender: UInt32, fingerprint: UInt64)? = nil,
                             silence: Duration? = nil, isolation: isolated (any Actor)? = #isolation) async throws -> WireMessage {
        var deadline = deadline
        while true {
            // Due an interval after the last message sent, however many messages arrive meanwhile.
            let nextBeat = lastSent + heartbeatInterval
            let planned = heartbeat == nil ? deadline : min(deadline, nextBeat)
            let frames = early.isEmpty ? await transport.receive(before: planned, isolation: isolation) : early.removeFirst()
            onWake?()
            // A wait that ended more than half the allowed silence late: this process was held up (not
            // scheduled, or paused), and the server's silence within it proves nothing.
            let overshoot = ContinuousClock.now - planned
            if frames == nil, overshoot > (silence ?? timeout) / 2 { deadline += overshoot }
            guard let frames else {
                if transport.isFinished { throw ClusterError.connectionClosed }
                if ContinuousClock.now >= deadline {
                    throw ClusterError.noReply(expecting: expecting, seconds: (silence ?? timeout).seconds)
                }
                if let heartbeat, ContinuousClock.now >= lastSent + heartbeatInterval {
                    self.heartbeat(sender: heartbeat.sender, fingerprint: heartbeat.fingerprint)
                }
                continue
            }
            do {
                let message = try WireMessage.decode(frames: frames, expectedFingerprint: fingerprint, parameterCount: parameterCount)
                let bytes = frames.reduce(0) { $0 + $1.count } - MessageHeader.size
                logger.trace("worker\(rank.map { " \($0)" } ?? ""): ← server: \(message.type) step \(message.step), \(bytes) bytes",
                             metadata: ["step": "\(message.step)"])
                return message
            } catch {
                logger.warning("worker: dropped a message: \(error)")
            }
        }
    }
}

/// The result of work done on another thread, set once.
private final class Outcome<Value: Sendable>: @unchecked Sendable {
    // Unchecked: `stored` and `waiter` are guarded by `lock`.
    private let lock = NSLock()
    private var stored: Value?
    private var waiter: CheckedContinuation<Value, Never>?

    /// The result, once set.
    var value: Value? { lock.withLock { stored } }

    func set(_ value: Value) {
        let waiter = lock.withLock { () -> CheckedContinuation<Value, Never>? in
            stored = value
            defer { self.waiter = nil }
            return self.waiter
        }
        waiter?.resume(returning: value)
    }

    /// The result, awaited if it is not set yet.
    func wait(isolation: isolated (any Actor)? = #isolation) async -> Value {
        await withCheckedContinuation { continuation in
            let value = lock.withLock { () -> Value? in
                if stored == nil { waiter = continuation }
                return stored
            }
            if let value { continuation.resume(returning: value) }
        }
    }
}
