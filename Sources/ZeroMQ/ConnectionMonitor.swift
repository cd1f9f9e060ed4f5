import CZeroMQ
import Foundation
import Synchronization
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// Watches a listening socket for connections it could not accept (`ZMQ_EVENT_ACCEPT_FAILED`, for
/// example when the process has no file descriptor left) and reports each one, on its own thread.
///
/// libzmq tells nobody when `accept()` fails: without a monitor a server out of descriptors refuses
/// every new peer in silence (and its I/O thread retries the failing accept without pause). The
/// monitor reads the socket's monitor events from an inproc PAIR socket, counts the failures and
/// hands `report` a sentence naming the endpoint and the error: for the first failure, then at most
/// one every `reportInterval` with the count since the last (a failing listener fails thousands of
/// times a second).
public final class ConnectionMonitor: Sendable {
    /// The monitor events this watcher asks libzmq for.
    static let events = Int32(ZMQ_EVENT_ACCEPT_FAILED)

    private let thread: ServiceThread
    private let failures: Failures

    /// Starts reading the events of the socket that `Socket.startMonitor(_:)` was called on with
    /// `endpoint`, on `context`; returns once connected, or throws.
    public init(context: Context, endpoint: String, reportInterval: Duration = .seconds(5),
                report: @escaping @Sendable (String) -> Void) throws {
        let failures = Failures()
        self.failures = failures
        thread = try ServiceThread.start(name: "connection monitor") { thread in
            let socket: Socket
            do {
                socket = try context.socket(.pair)
                try socket.connect(endpoint)
            } catch {
                thread.started(error as? ZMQError ?? ZMQError(code: EFAULT, operation: "start connection monitor: \(error)"))
                return
            }
            thread.started(nil)
            Self.watch(socket, thread: thread, failures: failures, interval: reportInterval, report: report)
            socket.close()
        }
    }

    deinit {
        thread.stop()
    }

    /// Stops watching; returns when the thread has ended (within 10 s). Idempotent.
    public func close() {
        thread.stop()
    }

    /// The connections that could not be accepted so far.
    public var acceptFailures: Int { failures.count.load(ordering: .relaxed) }

    /// Reads events until stopped or the context is closed.
    private static func watch(_ socket: Socket, thread: ServiceThread, failures counter: Failures, interval: Duration,
                              report: @Sendable (String) -> Void) {
        var lastReport: (at: ContinuousClock.Instant, failures: Int)?
        let poller = Poller()
        let socketIndex = poller.register(socket)
        let wakeIndex = poller.register(fileDescriptor: thread.wakePipe.readDescriptor)
        let limits = ReceiveLimits(maxFrames: 4, maxBytes: 4096)
        while !thread.isStopping {
            guard let ready = try? poller.poll(timeout: 1000) else { return }
            if ready[wakeIndex].contains(.readable) { thread.wakePipe.drain() }
            guard ready[socketIndex].contains(.readable) else { continue }
            for _ in 0..<1024 {
                let received: [ReceivedFrame]?
                do { received = try socket.tryReceiveMultipart(limits: limits) } catch { return }
                guard let frames = received else { break }
                guard frames.count == 2, frames[0].count == 6 else { continue }
                let bytes = frames[0].bytes
                let code = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
                let value = bytes[2...].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
                guard Int32(code) == ZMQ_EVENT_ACCEPT_FAILED else { continue }
                let failures = counter.count.add(1, ordering: .relaxed).newValue
                let now = ContinuousClock.now
                if let last = lastReport, now - last.at < interval { continue }
                let since = lastReport.map { " (\(failures - $0.failures) since the last report)" } ?? ""
                lastReport = (now, failures)
                let reason = String(cString: strerror(Int32(bitPattern: value)))
                report("could not accept a connection on \(frames[1].string): \(reason) (errno \(value)); "
                    + "\(failures) failed so far\(since)\(openFileLimitNote(errno: Int32(bitPattern: value)))")
            }
        }
    }

    /// For EMFILE and ENFILE: the process's descriptor limit, and what frees descriptors.
    private static func openFileLimitNote(errno value: Int32) -> String {
        guard value == EMFILE || value == ENFILE else { return "" }
        var limit = rlimit()
        let soft = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? "\(limit.rlim_cur)" : "unknown"
        return "; the open-file limit is \(soft): connections that do not finish their handshake in time are closed, "
            + "and a higher limit (ulimit -n, LimitNOFILE=) leaves room for more"
    }
}

extension Socket {
    /// Publishes this socket's `ZMQ_EVENT_ACCEPT_FAILED` events on `endpoint` (an unused inproc name)
    /// for a `ConnectionMonitor`; call it on the socket's own thread, before binding.
    public func startMonitor(_ endpoint: String) throws {
        let operation = "monitor \(type) socket on \(endpoint)"
        let handle = try openHandle(operation)
        if zmq_socket_monitor(handle, endpoint, ConnectionMonitor.events) != 0 { throw ZMQError.last(operation) }
    }
}

/// The connections not accepted so far, counted by the monitor's thread.
private final class Failures: Sendable {
    let count = Atomic<Int>(0)
}
