import Datasets
import Engine
import Foundation
import ZeroMQ

/// A worker of synchronous data-parallel training: it joins a `ParameterServer` over a DEALER socket,
/// builds its model replica from the configuration the server sends, and at each step computes the
/// mean gradient of its shard of the global batch and pushes it, until the server says stop.
///
/// The socket lives on its `SocketPump` thread; every wait for the server has a deadline.
public actor Worker {
    /// The data the worker trains on.
    public nonisolated let trainingSet: LabeledDataset
    /// What the worker tells the server about its data in join.
    public nonisolated let datasetDescription: DatasetDescription

    private let pump: SocketPump
    private let mailbox: Mailbox
    private let makeModel: @Sendable (TrainingConfiguration) throws -> Model
    private let criterion: Criterion
    private let timeout: Duration
    private let log: @Sendable (String) -> Void
    private var rank: Int?

    /// Connects a DEALER socket to `endpoint`; `makeModel` builds the replica from the server's
    /// configuration, and `timeout` bounds every wait for the server.
    public init(
        context: Context, connect endpoint: String, trainingSet: LabeledDataset, testCount: Int = 0,
        objective: Objective = .classification, timeout: Duration = .seconds(60),
        log: @escaping @Sendable (String) -> Void = ParameterServer.standardError,
        makeModel: @escaping @Sendable (TrainingConfiguration) throws -> Model
    ) throws {
        let pump = try SocketPump(
            context: context, type: .dealer, name: "worker", limits: .worker,
            onError: { log("worker: socket error: \($0)") },
            setUp: { socket in
                // Keep a last gradient or error for up to a second after close().
                try socket.set(.linger, 1000)
                try socket.connect(endpoint)
            }
        )
        self.pump = pump
        self.mailbox = Mailbox(pump.incoming)
        self.trainingSet = trainingSet
        self.datasetDescription = DatasetDescription(name: trainingSet.name, trainCount: trainingSet.count, testCount: testCount)
        self.makeModel = makeModel
        self.criterion = Criterion(objective)
        self.timeout = timeout
        self.log = log
    }

    /// The rank the server gave this worker, once welcomed.
    public var assignedRank: Int? { rank }

    /// Joins, trains until the server sends stop and returns the number of gradients pushed; throws
    /// if the server refuses the worker, reports a failure or does not answer in time.
    public func run() async throws -> Int {
        pump.send(WireMessage(sender: MessageHeader.unassignedSender, body: .join(datasetDescription)).encoded())
        let (header, welcome) = try await awaitWelcome()
        let model = try makeModel(welcome.configuration)
        guard model.fingerprint == header.fingerprint, model.parameterCount == welcome.weights.count else {
            let detail = "fingerprint 0x\(String(model.fingerprint, radix: 16)) with \(model.parameterCount) parameters, "
                + "the server's 0x\(String(header.fingerprint, radix: 16)) with \(welcome.weights.count)"
            pump.send(WireMessage(sender: UInt32(welcome.rank), fingerprint: model.fingerprint, body: .error(reason: detail)).encoded())
            throw ClusterError.modelMismatch(detail)
        }
        rank = welcome.rank
        let configuration = welcome.configuration
        let plan = ShardPlan(sampleCount: trainingSet.count, workerCount: welcome.worldSize,
                             batchSizePerWorker: configuration.batchSizePerWorker)
        let loader = DataLoader(trainingSet, batchSize: configuration.batchSizePerWorker, shuffle: true, seed: configuration.seed)
        var weights = welcome.weights
        var step = Int(header.step)
        var order: (epoch: Int, positions: [Int32])?
        var pushed = 0
        while true {
            let epoch = step / plan.stepsPerEpoch + 1, stepInEpoch = step % plan.stepsPerEpoch
            if order?.epoch != epoch {
                order = (epoch, DataLoader.order(count: trainingSet.count, seed: configuration.seed, epoch: epoch))
            }
            weights.copy(into: model.parameters)
            let positions = plan.positions(step: stepInEpoch, rank: welcome.rank)
            let push: GradientPush
            if positions.isEmpty {
                push = GradientPush(sampleCount: 0, meanLoss: 0, isEndOfEpoch: true, gradient: .array([]))
            } else {
                let batch = loader.gather(positions, order: order?.positions)
                model.zeroGradients()
                let loss = criterion.loss(model.forward(batch.inputs), labels: batch.labels, targets: batch.targets)
                model.backward(criterion.backward())
                push = GradientPush(sampleCount: batch.count, meanLoss: Double(loss),
                                    isEndOfEpoch: stepInEpoch == plan.stepsPerEpoch - 1,
                                    gradient: .array(Array(model.gradients)))
            }
            pump.send(WireMessage(sender: UInt32(welcome.rank), step: UInt64(step), fingerprint: model.fingerprint,
                                  body: .pushGradient(push)).encoded())
            pushed += 1
            switch try await awaitReply(after: step, fingerprint: model.fingerprint, parameterCount: model.parameterCount) {
            case .weights(let next, let nextStep):
                weights = next
                step = nextStep
            case .stop:
                return pushed
            }
        }
    }

    /// Closes the socket (a queued message gets the linger period to leave).
    public func close() {
        pump.close()
    }

    /// What the server answers a push with.
    private enum Reply {
        case weights(FloatPayload, step: Int)
        case stop
    }

    private func awaitWelcome() async throws -> (WireMessage, Welcome) {
        let deadline = ContinuousClock.now + timeout
        while true {
            let message = try await nextMessage(before: deadline, expecting: "welcome", fingerprint: nil, parameterCount: nil)
            switch message.body {
            case .welcome(let welcome): return (message, welcome)
            case .error(let reason): throw ClusterError.refused(reason: reason)
            default: log("worker: dropped an unexpected \(message.type) message before welcome")
            }
        }
    }

    private func awaitReply(after step: Int, fingerprint: UInt64, parameterCount: Int) async throws -> Reply {
        let deadline = ContinuousClock.now + timeout
        while true {
            let message = try await nextMessage(before: deadline, expecting: "weights for step \(step + 1)",
                                                fingerprint: fingerprint, parameterCount: parameterCount)
            switch message.body {
            case .weights(let weights) where message.step == UInt64(step + 1):
                return .weights(weights, step: step + 1)
            case .stop:
                return .stop
            case .error(let reason):
                throw ClusterError.peerFailed(rank: nil, reason: reason)
            default:
                log("worker: dropped an unexpected \(message.type) message for step \(message.step) while at step \(step)")
            }
        }
    }

    /// The next valid message before `deadline`; invalid ones are logged and dropped.
    private func nextMessage(before deadline: ContinuousClock.Instant, expecting: String,
                             fingerprint: UInt64?, parameterCount: Int?) async throws -> WireMessage {
        while true {
            guard let frames = await mailbox.next(before: deadline) else {
                if mailbox.isFinished { throw ClusterError.connectionClosed }
                throw ClusterError.noReply(expecting: expecting, seconds: timeout.seconds)
            }
            do {
                return try WireMessage.decode(frames: frames, expectedFingerprint: fingerprint, parameterCount: parameterCount)
            } catch {
                log("worker: dropped a message: \(error)")
            }
        }
    }
}
