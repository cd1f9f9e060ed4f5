/// Bounds on one received message; a message beyond them is read to its end, discarded and reported.
///
/// libzmq delivers a message's frames together, so a receive cannot stop half-way: the frames past
/// a limit are received and freed one at a time, leaving the socket at the next message. A single
/// frame's size is bounded on the wire by `SocketOption.maxMessageSize`, before libzmq buffers it.
public struct ReceiveLimits: Sendable, Equatable {
    /// The most frames a message may have.
    public var maxFrames: Int
    /// The most bytes a message may have, over all its frames.
    public var maxBytes: Int

    /// Limits of `maxFrames` frames and `maxBytes` bytes.
    public init(maxFrames: Int = .max, maxBytes: Int = .max) {
        self.maxFrames = maxFrames
        self.maxBytes = maxBytes
    }

    /// No limits.
    public static let unlimited = ReceiveLimits()
}
