import Foundation

/// A transport between actors of one process without sockets: a send hands the frames to the
/// peer's mailbox on the sender's thread, and the peer's thread (its actor's executor) wakes on a
/// condition. The messages are the same frames ZeroMQ would carry, zero-copy as over inproc (the
/// receiver reads the sender's memory, kept alive by its owner until the receiver drops the frame).
///
/// A server (`init(serving:)`) receives each message with the sender's identity frame first and
/// routes what it sends by that first frame, as a ROUTER; a client (`init(connectingTo:)`) talks to
/// its one server, as a DEALER.
public final class DirectTransport: MessageTransport {
    private let mailbox: Mailbox<[any IncomingFrame]>
    private let executor: ThreadExecutor<[any IncomingFrame]>
    private let role: Role
    private let state = State()

    private enum Role {
        case server(Routes)
        case client(server: DirectTransport, identity: [UInt8])
    }

    public let endpoint: String
    public var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// A server named `name` (its endpoint, for logs), which clients connect to by the object; throws
    /// if its thread cannot be started.
    public init(serving name: String) throws {
        (mailbox, executor) = try Self.makeThread(name: name)
        role = .server(Routes())
        endpoint = "direct://\(name)"
    }

    /// A client of `server`, named `name` for its thread; throws if the thread cannot be started.
    public init(connectingTo server: DirectTransport, name: String) throws {
        guard case .server(let routes) = server.role else { preconditionFailure("a direct client connects to a server") }
        (mailbox, executor) = try Self.makeThread(name: name)
        endpoint = server.endpoint
        let identity = routes.add()
        role = .client(server: server, identity: identity)
        routes.set(identity, to: self)
    }

    /// A mailbox and the thread that runs its owner and expires its waits.
    private static func makeThread(name: String) throws -> (Mailbox<[any IncomingFrame]>, ThreadExecutor<[any IncomingFrame]>) {
        let condition = NSCondition()
        // A new waiter's deadline may be earlier than the thread's sleep: wake it to look again.
        let mailbox = Mailbox<[any IncomingFrame]>(onWait: { condition.withLock { condition.signal() } })
        return (mailbox, try ThreadExecutor(name: name, mailbox: mailbox, condition: condition))
    }

    deinit {
        executor.release()
    }

    @discardableResult
    public func send(_ frames: [Frame]) -> Bool {
        guard !state.isClosed else { return false }
        switch role {
        case .server(let routes):
            // As a ROUTER: the first frame names the peer; a message to an unknown peer is dropped.
            guard let first = frames.first, let peer = routes.peer(first.withUnsafeBytes { Array($0) }) else { return true }
            peer.deliver(frames.dropFirst().map(DirectFrame.init))
        case .client(let server, let identity):
            server.deliver([DirectFrame(Frame(identity))] + frames.map(DirectFrame.init))
        }
        return true
    }

    /// Puts a message in this transport's mailbox, unless it is closed.
    private func deliver(_ frames: [any IncomingFrame]) {
        guard !state.isClosed else { return }
        mailbox.put(frames)
    }

    public func receive(before deadline: ContinuousClock.Instant, isolation: isolated (any Actor)?) async -> [any IncomingFrame]? {
        await mailbox.next(before: deadline, isolation: isolation)
    }

    public var isFinished: Bool { mailbox.isFinished }

    public func interrupt() {
        mailbox.interrupt()
    }

    public func close() async {
        state.close()
        mailbox.finish()
        if case .client(let server, let identity) = role, case .server(let routes) = server.role {
            routes.remove(identity)
        }
    }

    /// Whether the transport has been closed.
    private final class State: @unchecked Sendable {
        // Unchecked: `closed` is guarded by `lock`.
        private let lock = NSLock()
        private var closed = false

        var isClosed: Bool { lock.withLock { closed } }
        func close() { lock.withLock { closed = true } }
    }

    /// A server's clients by identity.
    private final class Routes: @unchecked Sendable {
        // Unchecked: every field is guarded by `lock`.
        private let lock = NSLock()
        private var next: UInt32 = 1
        private var peers: [[UInt8]: Weak] = [:]

        /// A fresh identity (5 bytes, as libzmq makes them: a zero, then a counter).
        func add() -> [UInt8] {
            lock.withLock {
                defer { next += 1 }
                return [0] + withUnsafeBytes(of: next.bigEndian) { Array($0) }
            }
        }

        func set(_ identity: [UInt8], to transport: DirectTransport) {
            lock.withLock { peers[identity] = Weak(transport) }
        }

        func remove(_ identity: [UInt8]) {
            lock.withLock { _ = peers.removeValue(forKey: identity) }
        }

        func peer(_ identity: [UInt8]) -> DirectTransport? {
            lock.withLock { peers[identity]?.transport }
        }

        private struct Weak {
            weak var transport: DirectTransport?
            init(_ transport: DirectTransport) { self.transport = transport }
        }
    }
}

/// A frame delivered by a `DirectTransport`: a copy of a copied frame's bytes (as libzmq makes one),
/// or a zero-copy frame's memory with its owner kept alive until the receiver drops the frame.
final class DirectFrame: IncomingFrame, @unchecked Sendable {
    // Unchecked: immutable once made; a zero-copy frame's memory is not written while its owner is held.
    let unsafeBytes: UnsafeRawBufferPointer
    /// The zero-copy frame's owner, or nil when `unsafeBytes` is this frame's own copy.
    private let owner: AnyObject?

    init(_ frame: Frame) {
        if case .noCopy(let bytes, let owner) = frame.storage {
            unsafeBytes = bytes
            self.owner = owner
        } else {
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.count, alignment: 16)
            frame.withUnsafeBytes { copy.copyMemory(from: $0) }
            unsafeBytes = UnsafeRawBufferPointer(copy)
            owner = nil
        }
    }

    deinit {
        if owner == nil { unsafeBytes.deallocate() }
    }

    var count: Int { unsafeBytes.count }

    func metadata(_ property: String) -> String? { nil }
}
