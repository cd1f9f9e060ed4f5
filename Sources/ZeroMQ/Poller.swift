import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Conditions a poll waits for and reports.
public struct PollEvents: OptionSet, Sendable, Hashable {
    /// libzmq's `ZMQ_POLL*` bits.
    public let rawValue: Int16

    /// Creates the set from `ZMQ_POLL*` bits.
    public init(rawValue: Int16) {
        self.rawValue = rawValue
    }

    /// A whole message can be received, or a file descriptor is readable (`ZMQ_POLLIN`).
    public static let readable = PollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// A message can be sent without blocking, or a file descriptor is writable (`ZMQ_POLLOUT`).
    public static let writable = PollEvents(rawValue: Int16(ZMQ_POLLOUT))
    /// A file descriptor has an error condition (`ZMQ_POLLERR`; never reported for sockets).
    public static let error = PollEvents(rawValue: Int16(ZMQ_POLLERR))
}

/// Waits for readiness on several sockets and raw file descriptors at once (`zmq_poll`).
///
/// Like its sockets, a poller belongs to one thread. A raw file descriptor such as the read end of
/// a pipe lets another thread wake the poll loop: write a byte to the pipe, and the poll returns
/// with the descriptor readable (drain it before polling again).
public final class Poller {
    private var sockets: [Socket?] = []
    private var items: [zmq_pollitem_t] = []

    /// An empty poller.
    public init() {}

    /// Watches `socket` for `events`; returns the index of its entry in every `PollResult`.
    @discardableResult
    public func register(_ socket: Socket, for events: PollEvents = .readable) -> Int {
        sockets.append(socket)
        items.append(zmq_pollitem_t(socket: nil, fd: -1, events: events.rawValue, revents: 0))
        return items.count - 1
    }

    /// Watches the file descriptor `fileDescriptor` for `events`; returns the index of its entry.
    @discardableResult
    public func register(fileDescriptor: Int32, for events: PollEvents = .readable) -> Int {
        sockets.append(nil)
        items.append(zmq_pollitem_t(socket: nil, fd: fileDescriptor, events: events.rawValue, revents: 0))
        return items.count - 1
    }

    /// Waits up to `timeout` milliseconds (0: just check; -1: forever) for any registered event.
    ///
    /// Returns at the first readiness, or empty when the time is up; an interrupted wait (`EINTR`)
    /// is resumed for the time that is left.
    public func poll(timeout: Int) throws -> PollResult {
        for index in items.indices {
            if let socket = sockets[index] {
                items[index].socket = try socket.openHandle("poll")
            }
            items[index].revents = 0
        }
        let deadline = Deadline(milliseconds: timeout)
        var wait = timeout
        while true {
            let result = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), wait) }
            if result >= 0 { break }
            let code = zmq_errno()
            guard code == EINTR else { throw ZMQError(code: code, operation: "poll \(items.count) items") }
            wait = deadline.remainingMilliseconds
        }
        return PollResult(
            sockets: sockets.map { $0.map(ObjectIdentifier.init) },
            fileDescriptors: zip(sockets, items).map { $0 == nil ? $1.fd : nil },
            events: items.map { PollEvents(rawValue: $0.revents) }
        )
    }
}

@available(*, unavailable, message: "a poller uses its sockets, which belong to one thread")
extension Poller: Sendable {}

/// What a `Poller.poll(timeout:)` found, per registered socket or file descriptor.
public struct PollResult: Sendable {
    private let sockets: [ObjectIdentifier?]
    private let fileDescriptors: [Int32?]
    /// The events that occurred, one entry per registration in order.
    public let events: [PollEvents]

    init(sockets: [ObjectIdentifier?], fileDescriptors: [Int32?], events: [PollEvents]) {
        self.sockets = sockets
        self.fileDescriptors = fileDescriptors
        self.events = events
    }

    /// Whether nothing was ready (the timeout expired).
    public var isEmpty: Bool { events.allSatisfy(\.isEmpty) }

    /// The events of the registration at `index`.
    public subscript(index: Int) -> PollEvents { events[index] }

    /// The events of `socket`, combined over its registrations; empty if it is not registered.
    public subscript(socket: Socket) -> PollEvents {
        let id = ObjectIdentifier(socket)
        return sockets.indices.reduce(into: []) { if sockets[$1] == id { $0.formUnion(events[$1]) } }
    }

    /// The events of the file descriptor `fileDescriptor`; empty if it is not registered.
    public subscript(fileDescriptor fileDescriptor: Int32) -> PollEvents {
        fileDescriptors.indices.reduce(into: []) { if fileDescriptors[$1] == fileDescriptor { $0.formUnion(events[$1]) } }
    }
}
