import Engine

/// The server's mirror of the weights its workers hold when weights travel as compressed deltas
/// (`TrainingConfiguration.compressWeights` other than `none`).
///
/// A worker's replica changes only by what the server sends it: whole weights (a welcome, a
/// weights message) replace it, a weights-delta frame is decoded and added to it. The server keeps
/// the same replica and builds each delta against it: delta = weights − replica, encoded with the
/// codec, and the replica adds what the worker will decode, in the same float operations as the
/// worker, so the two stay equal bit for bit. What a lossy frame leaves out stays in
/// weights − replica and goes with the next delta: the server's error feedback.
///
/// Sync mode keeps one replica (every worker gets the same frames); async and SSP one per slot.
/// After an epoch ends (`denseDue()`), the next weights each worker gets are whole, so every
/// replica equals the server's weights after every epoch, for every codec.
final class WeightReplicas {
    /// The codec of the deltas.
    let codec: any Codec
    /// Whether every worker shares one replica (sync mode) instead of one per slot.
    let isShared: Bool
    private let count: Int
    private var replicas: [Int: FloatBuffer] = [:]
    /// The replicas whose next weights are whole.
    private var due: Set<Int> = []
    private let delta: FloatBuffer
    private let decoded: FloatBuffer

    /// Mirrors for vectors of `count` floats whose deltas are written with `codec`.
    init(codec: any Codec, count: Int, shared: Bool) {
        self.codec = codec
        self.count = count
        self.isShared = shared
        delta = FloatBuffer(count: count)
        decoded = FloatBuffer(count: count)
    }

    /// The number of replicas kept (for tests).
    var replicaCount: Int { replicas.count }

    /// The replica of the worker in `slot`, if it has one (read-only, valid until the next message).
    func replica(slot: Int) -> UnsafeBufferPointer<Float>? {
        replicas[key(slot)].map { UnsafeBufferPointer($0.values) }
    }

    /// Every replica's next weights are whole (an epoch ended).
    func denseDue() {
        due = Set(replicas.keys)
    }

    /// The message that brings the worker in `slot` to `weights` (whose zero-copy payload is
    /// `payload`): whole weights when it has no replica yet or whole weights are due, else a delta;
    /// the mirror is updated as the worker will update its replica. In sync mode every worker must
    /// be sent the same message.
    func message(slot: Int, weights: UnsafeBufferPointer<Float>, payload: FloatPayload) -> MessageBody {
        let key = key(slot)
        guard let replica = replicas[key], !due.contains(key) else {
            reset(slot: slot, to: weights)
            return .weights(payload)
        }
        let change = delta.values, target = replica.values, received = decoded.values
        for index in 0..<count { change[index] = weights[index] - target[index] }
        let bytes = codec.encode(UnsafeBufferPointer(change))
        let outcome = bytes.withUnsafeBytes { ErrorFeedback.decode($0, with: codec, into: received) }
        if let problem = outcome { preconditionFailure("\(codec.name) cannot decode its own frame: \(problem)") }
        WeightDeltaReceiver.add(UnsafeBufferPointer(received), to: target)
        return .weightsDelta(.bytes(bytes))
    }

    /// The message that brings the worker in `slot`, alone, to the weights: in sync mode the shared
    /// replica, whole (a delta would move the replica the others hold), else as `message(slot:weights:payload:)`.
    func soloMessage(slot: Int, weights: WeightSnapshots.Snapshot, pool: WeightSnapshots) -> MessageBody {
        guard isShared, let replica = replicas[key(slot)] else {
            return message(slot: slot, weights: weights.values, payload: weights.payload)
        }
        return .weights(pool.snapshot(of: UnsafeBufferPointer(replica.values)).payload)
    }

    /// The weights a welcome gives the worker in `slot`: in sync mode the shared replica (so it
    /// holds what the others hold), else `weights`, which become its replica.
    func welcomeWeights(slot: Int, weights: WeightSnapshots.Snapshot, pool: WeightSnapshots) -> FloatPayload {
        if isShared, let replica = replicas[key(slot)] {
            return pool.snapshot(of: UnsafeBufferPointer(replica.values)).payload
        }
        reset(slot: slot, to: weights.values)
        return weights.payload
    }

    /// The replica of `slot` becomes `weights` (the worker is sent them whole).
    func reset(slot: Int, to weights: UnsafeBufferPointer<Float>) {
        let key = key(slot)
        let replica = replicas[key] ?? FloatBuffer(count: count)
        if let source = weights.baseAddress, let target = replica.values.baseAddress { target.update(from: source, count: count) }
        replicas[key] = replica
        due.remove(key)
    }

    /// Forgets the replica of `slot` (its worker is gone; a newcomer is welcomed with whole weights).
    func forget(slot: Int) {
        guard !isShared else { return }
        replicas[slot] = nil
        due.remove(slot)
    }

    private func key(_ slot: Int) -> Int { isShared ? 0 : slot }
}
