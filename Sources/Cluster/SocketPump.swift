import Foundation
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// Drives one ZeroMQ socket from a dedicated thread, so that no blocking poll ever sits on Swift's
/// cooperative pool and only one thread ever touches the socket.
///
/// Received messages arrive on `incoming`, an `AsyncStream` an actor iterates. `send(_:)` may be
/// called from any thread or task: it queues the frames and wakes the pump through a pipe, and the
/// pump thread sends them. `close()` stops the thread, closes the socket and finishes the stream.
public final class SocketPump: Sendable {
    /// The messages the socket receives, each as its frames (a ROUTER's identity frame first).
    public let incoming: AsyncStream<[ReceivedFrame]>
    /// The endpoint the socket bound or connected to last, as libzmq reports it (the chosen port for `:*`).
    public let endpoint: String

    private let outbox: Outbox
    private let wakePipe: WakePipe

    /// Frames queued for the pump thread, and whether it should stop.
    private final class Outbox: @unchecked Sendable {
        private let lock = NSLock()
        private var messages: [[Frame]] = []
        private var stopping = false

        func append(_ frames: [Frame]) -> Bool {
            lock.withLock {
                guard !stopping else { return false }
                messages.append(frames)
                return true
            }
        }

        func take() -> (messages: [[Frame]], stopping: Bool) {
            lock.withLock {
                defer { messages.removeAll(keepingCapacity: true) }
                return (messages, stopping)
            }
        }

        func stop() { lock.withLock { stopping = true } }
    }

    /// Creates a socket of `type` on a new thread and runs `setUp` there (options, bind or connect);
    /// throws what `setUp` throws. `limits` bound every received message; `onError` hears send and
    /// receive failures that the pump survives (the message concerned is dropped).
    public init(context: Context, type: SocketType, name: String, limits: ReceiveLimits = .unlimited,
                onError: @escaping @Sendable (ZMQError) -> Void = { _ in },
                setUp: @escaping @Sendable (Socket) throws -> Void) throws {
        let wakePipe = try WakePipe(name: name)
        self.wakePipe = wakePipe
        let outbox = Outbox()
        self.outbox = outbox
        let (stream, continuation) = AsyncStream.makeStream(of: [ReceivedFrame].self, bufferingPolicy: .unbounded)
        incoming = stream

        let started = DispatchSemaphore(value: 0)
        let startResult = StartResult()
        let thread = Thread {
            let socket: Socket
            do {
                socket = try context.socket(type)
                try setUp(socket)
                startResult.set(.success(try socket.lastEndpoint))
            } catch {
                startResult.set(.failure(error))
                started.signal()
                continuation.finish()
                return
            }
            started.signal()
            SocketPump.run(socket: socket, wakePipe: wakePipe, outbox: outbox, limits: limits, onError: onError,
                           deliver: { continuation.yield($0) })
            socket.close()
            continuation.finish()
        }
        thread.name = name
        thread.start()
        started.wait()
        switch startResult.value! {
        case .success(let endpoint): self.endpoint = endpoint
        case .failure(let error):
            throw error
        }
    }

    /// Queues a message for sending; returns false (and sends nothing) once the pump is closed.
    @discardableResult
    public func send(_ frames: [Frame]) -> Bool {
        guard outbox.append(frames) else { return false }
        wake()
        return true
    }

    /// Stops the pump thread, which makes one last attempt to send what is queued, closes the socket
    /// (with its linger) and finishes `incoming`.
    public func close() {
        outbox.stop()
        wake()
    }

    deinit { close() }

    private func wake() { wakePipe.wake() }

    /// The pump thread's loop: wait for the socket or the wake pipe, deliver, send, until told to stop.
    private static func run(socket: Socket, wakePipe: WakePipe, outbox: Outbox, limits: ReceiveLimits,
                            onError: @Sendable (ZMQError) -> Void, deliver: ([ReceivedFrame]) -> Void) {
        let poller = Poller()
        let socketIndex = poller.register(socket, for: .readable)
        let pipeIndex = poller.register(fileDescriptor: wakePipe.readDescriptor, for: .readable)
        // Messages the socket could not take yet (no peer, or its high-water mark): retried in order.
        var pending: [[Frame]] = []
        while true {
            let ready: PollResult
            do {
                ready = try poller.poll(timeout: pending.isEmpty ? 1000 : 5)
            } catch let error as ZMQError {
                if error.isContextTerminated { return }
                onError(error)
                continue
            } catch {
                return
            }
            if ready[pipeIndex].contains(.readable) { wakePipe.drain() }
            if ready[socketIndex].contains(.readable) {
                // Take everything that is waiting, not just one message per poll.
                for _ in 0..<1024 {
                    do {
                        guard let frames = try socket.tryReceiveMultipart(limits: limits) else { break }
                        deliver(frames)
                    } catch let error as ZMQError {
                        if error.isContextTerminated { return }
                        onError(error)
                    } catch {
                        break
                    }
                }
            }
            let (messages, stopping) = outbox.take()
            pending += messages
            while let frames = pending.first {
                do {
                    guard try socket.trySend(frames) else { break }
                } catch let error as ZMQError {
                    if error.isContextTerminated { return }
                    onError(error)
                } catch {}
                pending.removeFirst()
            }
            if stopping { return }
        }
    }
}

/// The outcome of a pump's start, handed from its thread to the creating one.
private final class StartResult: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Result<String, any Error>?

    var value: Result<String, any Error>? { lock.withLock { stored } }

    func set(_ result: Result<String, any Error>) { lock.withLock { stored = result } }
}

/// A non-blocking pipe whose write end wakes a poll loop; both ends close when the last owner lets go,
/// so a wake-up never writes to a pipe whose reader has gone (which would raise SIGPIPE).
private final class WakePipe: Sendable {
    let readDescriptor: Int32
    private let writeDescriptor: Int32

    init(name: String) throws {
        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else { throw ZMQError(code: errno, operation: "pipe for \(name)") }
        for descriptor in descriptors { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
    }

    deinit {
        Glibc.close(readDescriptor)
        Glibc.close(writeDescriptor)
    }

    func wake() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)  // a full pipe already holds a wake-up
    }

    func drain() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(readDescriptor, &bytes, bytes.count) > 0 {}
    }
}
