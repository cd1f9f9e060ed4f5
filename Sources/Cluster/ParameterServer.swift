import Datasets
import Engine
import Foundation
import ZeroMQ

/// The parameter server of synchronous data-parallel training: it owns the flat weights and the
/// optimiser state, welcomes `worldSize` workers over a ROUTER socket, and at each step averages one
/// gradient per rank (weighted by sample count), applies one optimiser step and sends every rank
/// the same new weights.
///
/// The socket lives on its `SocketPump` thread; the actor only queues frames and reads a `Mailbox`,
/// so nothing here blocks Swift's cooperative pool. Every wait has a deadline.
public actor ParameterServer {
    /// The endpoint the server bound, as libzmq reports it (with the chosen port for `tcp://…:*`).
    public nonisolated let endpoint: String
    /// The training set-up sent to every worker.
    public nonisolated let configuration: TrainingConfiguration
    /// The data every worker must have.
    public nonisolated let dataset: DatasetDescription
    /// The number of workers a step waits for.
    public nonisolated let worldSize: Int
    /// The model fingerprint every message must carry.
    public nonisolated let fingerprint: UInt64

    private let pump: SocketPump
    private let mailbox: Mailbox
    private let plan: ShardPlan
    private let optimizer: any Optimizer
    private let totalSteps: Int
    private let joinTimeout: Duration
    private let stepTimeout: Duration
    private let log: @Sendable (String) -> Void
    private var weights: [Float]
    /// Reused every step: the sample-weighted mean gradient, and one push's gradient copied out of its frame.
    private var average: [Float]
    private var scratch: [Float]
    private var identities: [[UInt8]] = []
    private var step = 0
    private let onEpochEnd: (@Sendable (EpochSummary) -> Void)?
    private var epochLoss = 0.0
    private var epochSamples = 0

    /// Binds a ROUTER socket at `endpoint` and prepares training from `weights` (the model's flat
    /// parameters) for `configuration.epochs` epochs, or `maxSteps` steps if that is fewer; calls
    /// `onEpochEnd` on the actor after each epoch's last step.
    public init(
        context: Context, bind endpoint: String, weights: [Float], fingerprint: UInt64,
        configuration: TrainingConfiguration, dataset: DatasetDescription, worldSize: Int, maxSteps: Int? = nil,
        joinTimeout: Duration = .seconds(60), stepTimeout: Duration = .seconds(60),
        log: @escaping @Sendable (String) -> Void = ParameterServer.standardError,
        onEpochEnd: (@Sendable (EpochSummary) -> Void)? = nil
    ) throws {
        precondition(worldSize > 0, "a parameter server needs at least one worker")
        guard configuration.mode == .sync else { throw ClusterError.unsupportedMode(configuration.mode.rawValue) }
        let pump = try SocketPump(
            context: context, type: .router, name: "parameter-server",
            limits: .parameterServer(parameterCount: weights.count),
            onError: { log("parameter server: socket error: \($0)") },
            setUp: { socket in
                // Keep queued weights and stop messages for up to a second after close().
                try socket.set(.linger, 1000)
                try socket.bind(endpoint)
            }
        )
        self.pump = pump
        self.endpoint = pump.endpoint
        self.mailbox = Mailbox(pump.incoming)
        self.weights = weights
        self.average = [Float](repeating: 0, count: weights.count)
        self.scratch = [Float](repeating: 0, count: weights.count)
        self.fingerprint = fingerprint
        self.configuration = configuration
        self.dataset = dataset
        self.worldSize = worldSize
        self.joinTimeout = joinTimeout
        self.stepTimeout = stepTimeout
        self.log = log
        self.onEpochEnd = onEpochEnd
        let plan = ShardPlan(sampleCount: dataset.trainCount, workerCount: worldSize,
                             batchSizePerWorker: configuration.batchSizePerWorker)
        self.plan = plan
        totalSteps = min(maxSteps ?? .max, plan.stepsPerEpoch * configuration.epochs)
        switch configuration.optimizer {
        case .sgd:
            optimizer = SGD(parameterCount: weights.count, learningRate: Float(configuration.learningRate),
                            momentum: Float(configuration.momentum))
        case .adam:
            optimizer = Adam(parameterCount: weights.count, learningRate: Float(configuration.learningRate))
        }
    }

    /// Writes a log line to standard error.
    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The current weights (the final ones once `run()` has returned).
    public var currentWeights: [Float] { weights }

    /// The number of steps applied so far.
    public var completedSteps: Int { step }

    /// Welcomes the workers, trains until the last step, sends stop to every rank and returns the final
    /// weights; on a timeout or a worker's failure it sends every rank an error and throws.
    public func run() async throws -> [Float] {
        var pushes = [GradientPush?](repeating: nil, count: worldSize)
        var deadline = ContinuousClock.now + joinTimeout
        do {
            while step < totalSteps {
                guard let frames = await mailbox.next(before: deadline) else {
                    if mailbox.isFinished { throw ClusterError.connectionClosed }
                    if identities.count < worldSize {
                        throw ClusterError.joinTimeout(joined: identities.count, expected: worldSize, seconds: joinTimeout.seconds)
                    }
                    let missing = pushes.indices.filter { pushes[$0] == nil }
                    throw ClusterError.stepTimeout(step: step, missingRanks: missing, seconds: stepTimeout.seconds)
                }
                let wasComplete = identities.count == worldSize
                try handle(frames, pushes: &pushes)
                if !wasComplete && identities.count == worldSize {
                    deadline = ContinuousClock.now + stepTimeout
                }
                if identities.count == worldSize, pushes.allSatisfy({ $0 != nil }) {
                    apply(pushes.map { $0! })
                    pushes = [GradientPush?](repeating: nil, count: worldSize)
                    step += 1
                    deadline = ContinuousClock.now + stepTimeout
                    if step < totalSteps { broadcast(.weights(.array(weights))) }
                    if step % plan.stepsPerEpoch == 0, let onEpochEnd {
                        // After the broadcast, so the workers compute the next step meanwhile.
                        onEpochEnd(EpochSummary(epoch: step / plan.stepsPerEpoch, weights: weights,
                                                trainLoss: epochSamples > 0 ? epochLoss / Double(epochSamples) : 0,
                                                samples: epochSamples))
                        epochLoss = 0
                        epochSamples = 0
                        deadline = ContinuousClock.now + stepTimeout
                    }
                }
            }
        } catch {
            broadcast(.error(reason: "the server stopped: \(error)"))
            log("parameter server: \(error)")
            throw error
        }
        broadcast(.stop)
        log("parameter server: done after \(step) steps")
        return weights
    }

    /// Closes the socket (queued messages get the linger period to leave).
    public func close() {
        pump.close()
    }

    /// Validates and acts on one received message; throws only when a joined worker reports a failure.
    private func handle(_ frames: [ReceivedFrame], pushes: inout [GradientPush?]) throws {
        let identity: [UInt8], message: WireMessage
        do {
            (identity, message) = try WireMessage.decodeRouted(
                frames: frames, expectedFingerprint: fingerprint, parameterCount: weights.count)
        } catch {
            log("parameter server: dropped a message: \(error)")
            if case .versionMismatch = error, let peer = frames.first, (1...255).contains(peer.count) {
                send(.error(reason: error.description), to: peer.bytes)
            }
            return
        }
        let rank = identities.firstIndex(of: identity)
        switch message.body {
        case .join(let description):
            join(identity, description: description, existingRank: rank)
        case .pushGradient(let push):
            guard let rank else {
                log("parameter server: dropped a push-gradient from a peer that has not joined")
                return
            }
            guard Int(message.sender) == rank else {
                log("parameter server: dropped a push-gradient from rank \(rank) claiming sender \(message.sender)")
                return
            }
            guard message.step == UInt64(step) else {
                log("parameter server: dropped a push-gradient of rank \(rank) for step \(message.step) (now at step \(step))")
                return
            }
            guard pushes[rank] == nil else {
                log("parameter server: dropped a second push-gradient of rank \(rank) for step \(step)")
                return
            }
            let expected = plan.positions(step: step % plan.stepsPerEpoch, rank: rank).count
            guard push.sampleCount == expected else {
                log("parameter server: dropped a push-gradient of rank \(rank) with \(push.sampleCount) samples, expected \(expected)")
                return
            }
            pushes[rank] = push
        case .error(let reason):
            log("parameter server: \(rank.map { "rank \($0)" } ?? "an unjoined peer") reports: \(reason)")
            if let rank { throw ClusterError.peerFailed(rank: rank, reason: reason) }
        case .heartbeat:
            break
        default:
            log("parameter server: dropped an unexpected \(message.type) message")
        }
    }

    /// Welcomes a worker whose data matches, or refuses it with a reason.
    private func join(_ identity: [UInt8], description: DatasetDescription, existingRank: Int?) {
        if let existingRank {
            log("parameter server: dropped a second join from rank \(existingRank)")
            return
        }
        guard description == dataset else {
            let reason = "data set differs: the server has \(Self.describe(dataset)), the worker has \(Self.describe(description))"
            log("parameter server: refused a worker: \(reason)")
            send(.error(reason: reason), to: identity)
            return
        }
        guard identities.count < worldSize else {
            let reason = "all \(worldSize) ranks are taken"
            log("parameter server: refused a worker: \(reason)")
            send(.error(reason: reason), to: identity)
            return
        }
        let rank = identities.count
        identities.append(identity)
        log("parameter server: rank \(rank) of \(worldSize) joined")
        send(.welcome(Welcome(rank: rank, worldSize: worldSize, configuration: configuration, weights: .array(weights))),
             to: identity)
    }

    /// Averages the gradients weighted by sample count and applies one optimiser step.
    private func apply(_ pushes: [GradientPush]) {
        let total = pushes.reduce(0) { $0 + $1.sampleCount }
        for push in pushes {
            epochLoss += push.meanLoss * Double(push.sampleCount)
            epochSamples += push.sampleCount
        }
        average.withUnsafeMutableBufferPointer { mean in
            scratch.withUnsafeMutableBufferPointer { one in
                mean.update(repeating: 0)
                for push in pushes where push.sampleCount > 0 {
                    _ = push.gradient.copy(into: one)
                    let weight = Float(push.sampleCount) / Float(total)
                    for index in 0..<mean.count { mean[index] += weight * one[index] }
                }
            }
        }
        var parameters = weights
        weights = []
        parameters.withUnsafeMutableBufferPointer { parameterBuffer in
            average.withUnsafeBufferPointer { optimizer.step(parameters: parameterBuffer, gradients: $0) }
        }
        weights = parameters
    }

    /// Sends `body` to every joined rank.
    private func broadcast(_ body: MessageBody) {
        // `.array` frames copy the weights into libzmq when the pump thread sends them, and the array is
        // a value: the optimiser's next step writes a fresh copy, never the buffer still being sent.
        for identity in identities { send(body, to: identity) }
    }

    private func send(_ body: MessageBody, to identity: [UInt8]) {
        let message = WireMessage(sender: MessageHeader.serverSender, step: UInt64(step), fingerprint: fingerprint, body: body)
        pump.send(message.encoded(to: identity))
    }

    private static func describe(_ description: DatasetDescription) -> String {
        "\"\(description.name)\" with \(description.trainCount) training and \(description.testCount) test samples"
    }
}
