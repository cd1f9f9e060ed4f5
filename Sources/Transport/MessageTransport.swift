/// What an actor of the cluster sends and receives through: messages as frames, to and from one
/// socket-like endpoint (ps-lite's `Van`). A ROUTER-like transport (a server's) puts the peer's
/// identity frame first in what it receives and takes it first in what it sends.
///
/// The transport has a thread of its own that is also the serial executor of the actor that owns it:
/// the actor's code, the sends and the deliveries run on that one thread, so a message reaches the
/// actor without a hop through Swift's cooperative pool.
public protocol MessageTransport: AnyObject, Sendable {
    /// The address the transport bound or connected to (for `tcp://…:*`, with the port chosen).
    var endpoint: String { get }
    /// The executor an actor that owns this transport runs on.
    var unownedExecutor: UnownedSerialExecutor { get }
    /// Queues a message for sending (at once when called on the transport's thread); false, with
    /// nothing sent, once the transport is closed.
    @discardableResult func send(_ frames: [Frame]) -> Bool
    /// The next message, or nil if none arrives before `deadline`, the wait is interrupted or the
    /// transport is closed; runs on `isolation` (pass `#isolation`), so the owner resumes on its thread.
    /// A nil for the deadline (even one already past) comes only after the transport has looked for
    /// messages since the call began: every message that reached it before the call has been read.
    func receive(before deadline: ContinuousClock.Instant, isolation: isolated (any Actor)?) async -> [any IncomingFrame]?
    /// Whether the transport is closed and every message it received has been read.
    var isFinished: Bool { get }
    /// Ends the current wait of `receive` with nil, or the next one if none is waiting.
    func interrupt()
    /// Closes the transport and returns once it is closed; messages already sent still leave (within
    /// the transport's linger).
    func close() async
}
