import CZeroMQ
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A ZeroMQ context: libzmq's I/O threads and the factory for sockets; safe to share between threads.
///
/// Lifetime and linger: every `Socket` keeps its context alive, so the context is terminated
/// (`zmq_ctx_term`) only in `deinit`, after the last of its sockets has been closed. `zmq_ctx_term`
/// waits for each closed socket's unsent messages for up to that socket's linger period; sockets made
/// by this wrapper start with linger 0 (libzmq's own default is -1, wait forever), so terminating
/// never hangs unless a socket was given a positive or infinite linger on purpose.
///
/// `close()` does not wait for anything: it shuts the context down (`zmq_ctx_shutdown`), which makes
/// every blocking call on its sockets, on any thread, fail at once with `ETERM` and refuses new sockets.
public final class Context: Sendable {
    // Immutable, and libzmq contexts are thread-safe; freed only in deinit, when no socket is left.
    private nonisolated(unsafe) let handle: UnsafeMutableRawPointer
    private let isShutDown = Atomic<Bool>(false)

    /// Creates a context with `ioThreads` background I/O threads (libzmq's default is 1).
    public init(ioThreads: Int32 = 1) throws {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("create context") }
        if zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads) != 0 {
            let error = ZMQError.last("set ZMQ_IO_THREADS to \(ioThreads)")
            zmq_ctx_term(handle)
            throw error
        }
        self.handle = handle
    }

    deinit {
        // EINTR only interrupts the wait; the context must still be terminated.
        while zmq_ctx_term(handle) == -1 && zmq_errno() == EINTR {}
    }

    /// Shuts the context down: blocking calls on its sockets fail with `ETERM`; idempotent, never blocks.
    public func close() {
        if !isShutDown.exchange(true, ordering: .acquiringAndReleasing) {
            zmq_ctx_shutdown(handle)
        }
    }

    /// Whether `close()` has been called.
    public var isClosed: Bool { isShutDown.load(ordering: .acquiring) }

    /// Creates a socket of `type` with linger 0; see `Socket` for its threading rules.
    public func socket(_ type: SocketType) throws -> Socket {
        try Socket(context: self, type: type)
    }

    /// Creates a raw libzmq socket; after `close()` this fails with `ETERM` (libzmq checks that itself).
    func makeSocket(_ type: SocketType, operation: String) throws -> UnsafeMutableRawPointer {
        guard let socket = zmq_socket(handle, type.code) else { throw ZMQError.last(operation) }
        return socket
    }
}
