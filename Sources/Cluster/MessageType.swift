/// The kind of a protocol message, carried as a UInt16 at offset 6 of the header.
public enum MessageType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    /// Worker → server: asks to take part, describing the worker's data set.
    case join = 1
    /// Server → worker: the worker's rank, the world size, the training configuration and the weights.
    case welcome = 2
    /// Worker → server: the mean gradient of one mini-batch, with its sample count and mean loss.
    case pushGradient = 3
    /// Server → worker: the weights after a step.
    case weights = 4
    /// Either direction: the sender has finished an epoch.
    case epochEnd = 5
    /// Server → worker: evaluate the current weights on the worker's test shard.
    case evaluationRequest = 6
    /// Worker → server: the result of an evaluation (mean loss, correct predictions, sample count).
    case evaluationResult = 7
    /// Server → worker: training is over; the worker exits.
    case stop = 8
    /// Either direction: a refusal or failure, with a human-readable reason.
    case error = 9
    /// Either direction: a liveness signal without payload.
    case heartbeat = 10
    /// Worker → server: asks what the server trains, before the worker loads its data.
    case hello = 11
    /// Server → worker: the training configuration and a description of the server's data set.
    case setup = 12
    /// Server → worker: the change of the weights since the last weights the worker got, written with
    /// the run's weights codec (`TrainingConfiguration.compressWeights`); the worker adds it to its replica.
    case weightsDelta = 13
    /// Worker → server: a range of a step's gradient, sent as backward produces it, before the
    /// push-gradient that carries the first values (runs with `TrainingConfiguration.overlapPushes`).
    case gradientPart = 14
    /// Worker → server shard 1…S−1: take part with the rank and slot shard 0 gave this worker
    /// (runs whose parameters are split over shards, `TrainingConfiguration.shards`).
    case shardJoin = 15
    /// Server shard 1…S−1 → shard 0: the shard's range of the weights at an epoch's end, which shard 0
    /// puts together with the other ranges for the epoch's evaluation and checkpoint.
    case shardWeights = 16

    /// The name used in logs and in `docs/PROTOCOL.md`, for example "push-gradient".
    public var description: String {
        switch self {
        case .join: "join"
        case .welcome: "welcome"
        case .pushGradient: "push-gradient"
        case .weights: "weights"
        case .epochEnd: "epoch-end"
        case .evaluationRequest: "evaluation-request"
        case .evaluationResult: "evaluation-result"
        case .stop: "stop"
        case .error: "error"
        case .heartbeat: "heartbeat"
        case .hello: "hello"
        case .setup: "setup"
        case .weightsDelta: "weights-delta"
        case .gradientPart: "gradient-part"
        case .shardJoin: "shard-join"
        case .shardWeights: "shard-weights"
        }
    }
}
