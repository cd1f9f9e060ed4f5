import CZeroMQ

/// The kind of a ZeroMQ socket, which fixes its messaging pattern.
public enum SocketType: Sendable, CaseIterable, CustomStringConvertible {
    /// One-to-one, both directions (`ZMQ_PAIR`).
    case pair
    /// Publisher: sends to every matching subscriber, drops when none or when a subscriber is full (`ZMQ_PUB`).
    case pub
    /// Subscriber: receives the messages whose first frame starts with a subscribed prefix (`ZMQ_SUB`).
    case sub
    /// Strict send-then-receive client (`ZMQ_REQ`).
    case req
    /// Strict receive-then-send server (`ZMQ_REP`).
    case rep
    /// Asynchronous client: round-robins sends, fair-queues receives (`ZMQ_DEALER`).
    case dealer
    /// Asynchronous server: prefixes each received message with the sender's routing id frame (`ZMQ_ROUTER`).
    case router
    /// Receiving end of a pipeline (`ZMQ_PULL`).
    case pull
    /// Sending end of a pipeline, round-robin over its peers (`ZMQ_PUSH`).
    case push
    /// Publisher that also receives subscription messages (`ZMQ_XPUB`).
    case xpub
    /// Subscriber that sends subscriptions as messages (`ZMQ_XSUB`).
    case xsub
    /// Raw TCP peer without ZMTP framing (`ZMQ_STREAM`).
    case stream

    /// libzmq's constant for this type.
    public var code: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pull: ZMQ_PULL
        case .push: ZMQ_PUSH
        case .xpub: ZMQ_XPUB
        case .xsub: ZMQ_XSUB
        case .stream: ZMQ_STREAM
        }
    }

    /// The libzmq name, for example "ROUTER".
    public var description: String {
        switch self {
        case .pair: "PAIR"
        case .pub: "PUB"
        case .sub: "SUB"
        case .req: "REQ"
        case .rep: "REP"
        case .dealer: "DEALER"
        case .router: "ROUTER"
        case .pull: "PULL"
        case .push: "PUSH"
        case .xpub: "XPUB"
        case .xsub: "XSUB"
        case .stream: "STREAM"
        }
    }
}
