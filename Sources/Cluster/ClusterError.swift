/// Why a parameter server or a worker stopped before training was done.
public enum ClusterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Fewer workers than the world size joined before the deadline.
    case joinTimeout(joined: Int, expected: Int, seconds: Double)
    /// The gradients of these ranks did not arrive for `step` before the deadline.
    case stepTimeout(step: Int, missingRanks: [Int], seconds: Double)
    /// Sync mode: every worker was dropped and none joined before the deadline.
    case noWorkers(step: Int, seconds: Double)
    /// Async mode: ranks whose workers were dropped were not taken over before the deadline.
    case vacantRanks(count: Int, seconds: Double)
    /// The peer did not answer before the deadline while we waited for `expecting`.
    case noReply(expecting: String, seconds: Double)
    /// The socket was closed while a message was still expected.
    case connectionClosed
    /// The server refused this worker, with its reason.
    case refused(reason: String)
    /// The other side reported a failure, with its reason.
    case peerFailed(rank: Int?, reason: String)
    /// The model the worker built differs from the server's.
    case modelMismatch(String)
    /// The server went silent during training and did not answer again within the reconnect timeout.
    case serverLost(seconds: Double)
    /// A saved server state cannot be used, with the reason.
    case cannotResume(String)
    /// The worker was told to expect other codecs than the server's run uses, with both.
    case codecMismatch(String)
    /// The server sent weights the worker cannot use (a weights-delta frame that does not decode), with the reason.
    case unreadableWeights(String)
    /// The server shards' answers do not fit together (another place, step or configuration), with what differs.
    case shardsDisagree(String)
    /// What went wrong with one server shard other than the first, which the string names.
    indirect case atShard(String, ClusterError)

    /// A sentence naming what went wrong.
    public var description: String {
        switch self {
        case .joinTimeout(let joined, let expected, let seconds):
            "only \(joined) of \(expected) workers joined within \(seconds) s"
        case .stepTimeout(let step, let missing, let seconds):
            "step \(step): no gradient from rank\(missing.count == 1 ? "" : "s") \(missing.map(String.init).joined(separator: ", ")) within \(seconds) s"
        case .noWorkers(let step, let seconds):
            "step \(step): every worker was dropped and none joined within \(seconds) s"
        case .vacantRanks(let count, let seconds):
            "\(count) rank\(count == 1 ? "" : "s") left by dropped workers \(count == 1 ? "was" : "were") not taken over within \(seconds) s"
        case .noReply(let expecting, let seconds):
            "no \(expecting) from the server within \(seconds) s"
        case .connectionClosed:
            "the connection was closed"
        case .refused(let reason):
            "the server refused this worker: \(reason)"
        case .peerFailed(let rank?, let reason):
            "worker rank \(rank) failed: \(reason)"
        case .peerFailed(nil, let reason):
            "the server failed: \(reason)"
        case .modelMismatch(let detail):
            "the worker's model differs from the server's: \(detail)"
        case .serverLost(let seconds):
            "lost the server, and it did not come back within \(seconds) s"
        case .cannotResume(let reason):
            "cannot resume from the saved state: \(reason)"
        case .codecMismatch(let detail):
            "the worker and the server disagree on compression: \(detail)"
        case .unreadableWeights(let reason):
            "the server sent weights the worker cannot use: \(reason)"
        case .shardsDisagree(let detail):
            "the server shards disagree: \(detail)"
        case .atShard(let shard, let error):
            "\(shard): \(error)"
        }
    }
}

extension ClusterError {
    /// How the reason of the error a server sends every worker when it stops on a failure begins; any
    /// other error a server sends refuses only the worker it is addressed to.
    static let serverStoppedPrefix = "the server stopped: "

    /// What an error message from the server with `reason` means to the worker that got it: the
    /// server failed (it stopped for everyone), or it refused this worker.
    static func fromServer(reason: String) -> ClusterError {
        if reason.hasPrefix(serverStoppedPrefix) { return .peerFailed(rank: nil, reason: String(reason.dropFirst(serverStoppedPrefix.count))) }
        return .refused(reason: reason)
    }
}
