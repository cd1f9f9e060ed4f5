/// One protocol message: the header fields that vary per message and a typed body.
///
/// `encoded()` gives the frames to send (header first); `decode(frames:expectedFingerprint:parameterCount:limits:)`
/// validates received frames completely before handing anything out. The header's type, flags and
/// payload length follow from the body.
public struct WireMessage: Sendable, Equatable {
    /// The sender's rank, `MessageHeader.serverSender` or `MessageHeader.unassignedSender`.
    public var sender: UInt32
    /// The training step the message refers to.
    public var step: UInt64
    /// The model fingerprint (0 in join; 0 allowed in error).
    public var fingerprint: UInt64
    /// The message's type-specific content.
    public var body: MessageBody

    /// A message with every field given.
    public init(sender: UInt32, step: UInt64 = 0, fingerprint: UInt64 = 0, body: MessageBody) {
        self.sender = sender
        self.step = step
        self.fingerprint = fingerprint
        self.body = body
    }

    /// The message type of the body.
    public var type: MessageType { body.type }
}

/// The type-specific content of a message.
public enum MessageBody: Sendable, Equatable {
    /// Worker → server: what does the server train?
    case hello
    /// Server → worker: the configuration and the server's data.
    case setup(Setup)
    /// Worker → server: the worker's data.
    case join(DatasetDescription)
    /// Server → worker: rank, world size, configuration and weights.
    case welcome(Welcome)
    /// Worker → server shard 1…S−1: the worker's data, and the rank and slot shard 0 gave it.
    case shardJoin(ShardJoin)
    /// Server shard 1…S−1 → shard 0: the shard's range of the weights at an epoch's end.
    case shardWeights(ShardWeights)
    /// Worker → server: one mini-batch's gradient.
    case pushGradient(GradientPush)
    /// Worker → server: a range of a step's gradient sent ahead of its push-gradient, as backward
    /// produces it (overlap runs only).
    case gradientPart(GradientPart)
    /// Server → worker: the weights after `step`.
    case weights(FloatPayload)
    /// Server → worker: what to add to the worker's replica to get the weights for `step`, written
    /// with the run's weights codec.
    case weightsDelta(EncodedVector)
    /// Either direction: the sender finished epoch `epoch` (counted from 1).
    case epochEnd(epoch: UInt64)
    /// Server → worker: evaluate the weights of `step` on the test shard.
    case evaluationRequest
    /// Worker → server: an evaluation's outcome.
    case evaluationResult(EvaluationResult)
    /// Server → worker: training is over.
    case stop
    /// Either direction: a refusal or failure with a reason.
    case error(reason: String)
    /// Either direction: a liveness signal.
    case heartbeat

    /// The message type of this body.
    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .setup: .setup
        case .join: .join
        case .welcome: .welcome
        case .shardJoin: .shardJoin
        case .shardWeights: .shardWeights
        case .pushGradient: .pushGradient
        case .gradientPart: .gradientPart
        case .weights: .weights
        case .weightsDelta: .weightsDelta
        case .epochEnd: .epochEnd
        case .evaluationRequest: .evaluationRequest
        case .evaluationResult: .evaluationResult
        case .stop: .stop
        case .error: .error
        case .heartbeat: .heartbeat
        }
    }
}

/// The content of a setup message: what a worker needs to load its data and build its model.
public struct Setup: Sendable, Equatable {
    /// The training set-up, as welcome will carry it.
    public var configuration: TrainingConfiguration
    /// The server's data set; a worker whose data differs will be refused at join.
    public var dataset: DatasetDescription

    /// A setup with every field given.
    public init(configuration: TrainingConfiguration, dataset: DatasetDescription) {
        self.configuration = configuration
        self.dataset = dataset
    }
}

/// The content of a welcome message: who the worker is, which part of each step's global batch it
/// takes from where in the epochs, the training set-up and the weights to start from. The server
/// sends it again to every worker whenever the workers taking part change.
public struct Welcome: Sendable, Equatable {
    /// The worker's rank: its sender id for as long as it takes part (ranks are not reused).
    public var rank: Int
    /// The worker's slice of each global batch, in 0..<worldSize.
    public var slot: Int
    /// The number of workers taking part from the welcome's step on.
    public var worldSize: Int
    /// The epoch of the welcome's step, counted from 0.
    public var epoch: Int
    /// The position in that epoch's order where the welcome's step starts.
    public var offset: Int
    /// The training set-up.
    public var configuration: TrainingConfiguration
    /// The current weights, in the model's flat parameter order.
    public var weights: FloatPayload

    /// A welcome with every field given; the slot defaults to the rank, the position to the start of training.
    public init(rank: Int, slot: Int? = nil, worldSize: Int, epoch: Int = 0, offset: Int = 0,
                configuration: TrainingConfiguration, weights: FloatPayload) {
        self.rank = rank
        self.slot = slot ?? rank
        self.worldSize = worldSize
        self.epoch = epoch
        self.offset = offset
        self.configuration = configuration
        self.weights = weights
    }
}

/// The content of a shard-join message: a worker that shard 0 welcomed asks another shard for the
/// same place, so every shard holds the same workers in the same slots. The header's step is the step
/// shard 0 goes on from, and `epoch` and `offset` its position in the epoch order: a shard resumed from
/// its state file takes them (its own state may be older).
public struct ShardJoin: Sendable, Equatable {
    /// The rank shard 0 gave the worker.
    public var rank: Int
    /// The slot shard 0 gave the worker.
    public var slot: Int
    /// The epoch of shard 0's next step, from 0.
    public var epoch: Int
    /// Where shard 0's next step starts in that epoch's order.
    public var offset: Int
    /// The worker's data, as in join.
    public var dataset: DatasetDescription

    /// A shard-join with every field given.
    public init(rank: Int, slot: Int, epoch: Int = 0, offset: Int = 0, dataset: DatasetDescription) {
        self.rank = rank
        self.slot = slot
        self.epoch = epoch
        self.offset = offset
        self.dataset = dataset
    }
}

/// The content of a shard-weights message: one shard's range of the weights when an epoch ended.
public struct ShardWeights: Sendable, Equatable {
    /// The sending shard's index (1…S−1; shard 0 is the receiver).
    public var shard: Int
    /// The epoch that ended, counted from 1.
    public var epoch: Int
    /// The shard's range of the flat weights, float32.
    public var values: FloatPayload

    /// Shard-weights with every field given.
    public init(shard: Int, epoch: Int, values: FloatPayload) {
        self.shard = shard
        self.epoch = epoch
        self.values = values
    }
}

/// The content of a push-gradient message.
public struct GradientPush: Sendable, Equatable {
    /// The number of samples the gradient is the mean over (0 when the worker had none left).
    public var sampleCount: Int
    /// The mean loss over those samples (0 when there were none).
    public var meanLoss: Double
    /// Whether the worker has no samples left in this epoch.
    public var isEndOfEpoch: Bool
    /// The mean gradient in flat parameter order; empty allowed only when `sampleCount` is 0, and
    /// empty when `encodedGradient` carries the vector. With `restSentInParts`, only its first values:
    /// gradient-part messages of the same step carried the rest.
    public var gradient: FloatPayload
    /// Whether `gradient` holds only the first values, the rest having gone ahead in gradient-part
    /// messages of the same step, last range first (the header's `partsSent` flag).
    public var restSentInParts: Bool = false
    /// The vector written with the run's push codec (the header's `encoded` flag), or nil when
    /// `gradient` carries it as float32.
    public var encodedGradient: EncodedVector?

    /// A gradient push with every field given.
    public init(sampleCount: Int, meanLoss: Double, isEndOfEpoch: Bool = false, gradient: FloatPayload,
                encodedGradient: EncodedVector? = nil, restSentInParts: Bool = false) {
        self.sampleCount = sampleCount
        self.meanLoss = meanLoss
        self.isEndOfEpoch = isEndOfEpoch
        self.gradient = gradient
        self.encodedGradient = encodedGradient
        self.restSentInParts = restSentInParts
    }
}

/// The content of a gradient-part message: the gradient's values from `offset` on, as far as they go.
public struct GradientPart: Sendable, Equatable {
    /// Where the values start in flat parameter order (above 0: the push-gradient carries the first values).
    public var offset: Int
    /// The values, float32.
    public var values: FloatPayload

    /// A part with every field given.
    public init(offset: Int, values: FloatPayload) {
        self.offset = offset
        self.values = values
    }

    /// The range of the flat gradient the part covers.
    public var range: Range<Int> { offset..<offset + values.count }
}

/// The content of an evaluation-result message.
public struct EvaluationResult: Sendable, Equatable {
    /// The mean loss over the evaluated samples.
    public var meanLoss: Double
    /// How many samples were predicted correctly.
    public var correct: Int
    /// How many samples were evaluated.
    public var count: Int

    /// A result with every field given.
    public init(meanLoss: Double, correct: Int, count: Int) {
        self.meanLoss = meanLoss
        self.correct = correct
        self.count = count
    }
}
