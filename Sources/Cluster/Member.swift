/// A worker taking part in training, as the parameter server tracks it.
struct Member {
    /// The worker's rank: its sender id, never given to another worker while this one takes part.
    let rank: Int
    /// The worker's ROUTER identity, the address of its connection.
    let identity: [UInt8]
    /// When the server last received a message from the worker.
    var lastHeard: ContinuousClock.Instant
    /// When the server last sent the worker a message.
    var lastSent: ContinuousClock.Instant
    /// The update count when the worker was last sent weights (for staleness).
    var sentAtUpdate: Int
    /// Whether the worker has been sent a welcome on its connection since it (last) joined.
    var welcomed = false
    /// The samples of the worker's accepted pushes, and that count at the previous status.
    var samples = 0
    var samplesAtStatus = 0
    /// The bytes sent to and received from the worker, and that count at the previous status.
    var bytes = 0
    var bytesAtStatus = 0
    /// The parts of a push on their way (overlap runs), until the push completes them.
    var assembly: PartAssembly?
}
