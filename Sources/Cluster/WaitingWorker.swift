/// A checked worker that asked to join while every place was taken: it waits (heartbeats keep it
/// known) until a place frees, for example when the worker it replaces is dropped as silent.
struct WaitingWorker {
    /// The worker's ROUTER identity.
    let identity: [UInt8]
    /// When the server last received a message from it.
    var lastHeard: ContinuousClock.Instant
    /// When the server last sent it a message.
    var lastSent: ContinuousClock.Instant
}
