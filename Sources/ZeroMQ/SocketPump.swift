import Foundation
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// Drives one ZeroMQ socket from a dedicated thread, which is also the serial executor of the actor
/// that owns the socket: the actor's code, the socket's sends and receives, and the deadlines of
/// its waits all run on that one thread.
///
/// No blocking poll ever sits on Swift's cooperative pool, only one thread touches the socket, and a
/// message travels from the socket to the actor without a hop through the pool: the thread receives
/// it, hands it to `mailbox`, and runs the actor's resumed job next. `send(_:)` may be called from
/// any thread: off the pump thread it queues the frames and wakes the thread through a pipe.
/// `close()` closes the socket; the thread keeps running the actor's jobs until the pump is released.
public final class SocketPump: Sendable {
    /// The endpoint the socket bound or connected to last, as libzmq reports it (the chosen port for `:*`).
    public let endpoint: String
    /// The messages the socket receives, each as its frames (a ROUTER's identity frame first).
    public let mailbox: Mailbox<[ReceivedFrame]>
    private let executor: PumpExecutor

    /// Creates a socket of `type` on a new thread and runs `setUp` there (options, bind or connect);
    /// throws what `setUp` throws. `limits` bound every received message; `onError` hears send and
    /// receive failures that the pump survives (the message concerned is dropped).
    public init(context: Context, type: SocketType, name: String, limits: ReceiveLimits = .unlimited,
                onError: @escaping @Sendable (ZMQError) -> Void = { _ in },
                setUp: @escaping @Sendable (Socket) throws -> Void) throws {
        let executor = try PumpExecutor(name: name)
        self.executor = executor
        let mailbox = Mailbox<[ReceivedFrame]>(onWait: { executor.wakeFromOtherThread() })
        self.mailbox = mailbox

        let started = DispatchSemaphore(value: 0)
        let startResult = StartResult()
        // The thread holds the context only until its socket exists: once the socket is closed and
        // released, the context can terminate, which is what delivers the socket's last messages.
        let contextHolder = ContextHolder(context)
        do {
            try DedicatedThread.start(name: name, stackSize: DedicatedThread.messagingStackSize) {
                executor.adoptCurrentThread()
                if let socket = Self.open(contextHolder, type: type, setUp: setUp, startResult: startResult) {
                    started.signal()
                    executor.run(socket: socket, mailbox: mailbox, limits: limits, onError: onError)
                } else {
                    mailbox.finish()
                    started.signal()
                }
                // The socket is released here: now its context may end whenever its last owner lets go.
                executor.markClosed()
                executor.runJobsOnly()
            }
        } catch {
            mailbox.finish()
            executor.release()
            throw error
        }
        started.wait()
        switch startResult.value! {
        case .success(let endpoint): self.endpoint = endpoint
        case .failure(let error):
            executor.release()
            throw error
        }
    }

    /// Makes and sets up the socket on the pump thread; nil (with the failure in `startResult`) if that fails.
    private static func open(_ holder: ContextHolder, type: SocketType, setUp: (Socket) throws -> Void,
                             startResult: StartResult) -> Socket? {
        do {
            let socket = try holder.take().socket(type)
            do {
                try setUp(socket)
                startResult.set(.success(try socket.lastEndpoint))
                return socket
            } catch {
                socket.close()
                throw error
            }
        } catch {
            startResult.set(.failure(error))
            return nil
        }
    }

    /// Queues a message for sending; returns false (and sends nothing) once the pump is closed.
    @discardableResult
    public func send(_ frames: [Frame]) -> Bool {
        executor.append(frames)
    }

    /// Closes the socket after one last attempt to send what is queued (the socket's linger applies)
    /// and ends the mailbox: a waiting reader gets nil.
    public func close() {
        executor.stop()
    }

    /// Whether the caller runs on the pump's thread.
    public var isCurrentThread: Bool { executor.isOnPumpThread }

    /// Closes the socket as `close()` does and returns once the pump thread has closed it (within
    /// `timeout`), so that the context, once released, delivers its last messages before it ends.
    public func closeAndWait(timeout: Duration = .seconds(10)) async {
        close()
        let deadline = ContinuousClock.now + timeout
        while !executor.isClosed && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    /// The executor an actor that owns this pump runs on.
    public var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    deinit {
        executor.stop()
        executor.release()
    }
}

/// The pump thread's work queue and serial executor: queued sends, queued jobs, and the stop and
/// release flags, shared by the thread and every other thread under one lock.
final class PumpExecutor: SerialExecutor, @unchecked Sendable {
    // Unchecked: the mutable state is guarded by `lock`; `thread` is written once before any job runs.
    private let lock = NSLock()
    private var messages: [[Frame]] = []
    private var jobs: [UnownedJob] = []
    private var stopping = false
    private var released = false
    private var thread: pthread_t?
    private let wakePipe: WakePipe
    /// The socket and the messages it could not take yet (no peer, or its high-water mark), retried in
    /// order: touched only on the pump thread.
    private var socket: Socket?
    private var pending: [[Frame]] = []
    private var onError: (@Sendable (ZMQError) -> Void)?
    private var closed = false

    init(name: String) throws {
        wakePipe = try WakePipe(name: name)
    }

    func adoptCurrentThread() {
        lock.withLock { thread = pthread_self() }
    }

    var isOnPumpThread: Bool {
        guard let thread = lock.withLock({ thread }) else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        lock.withLock { jobs.append(unowned) }
        wakeFromOtherThread()
    }

    func checkIsolated() {
        precondition(isOnPumpThread, "this code must run on its socket pump's thread")
    }

    /// Sends frames at once when called on the pump thread (the owning actor's code), else queues them
    /// for the thread; false once stopping.
    func append(_ frames: [Frame]) -> Bool {
        if isOnPumpThread, socket != nil {
            guard !lock.withLock({ stopping }) else { return false }
            pending.append(frames)
            _ = flush()
            return true
        }
        let accepted = lock.withLock {
            guard !stopping else { return false }
            messages.append(frames)
            return true
        }
        if accepted { wakeFromOtherThread() }
        return accepted
    }

    /// Hands pending messages to the socket in order until it refuses one; false if the context is gone.
    private func flush() -> Bool {
        guard let socket else { return true }
        while let frames = pending.first {
            do {
                guard try socket.trySend(frames) else { return true }
            } catch let error as ZMQError {
                if error.isContextTerminated { return false }
                onError?(error)
            } catch {}
            pending.removeFirst()
        }
        return true
    }

    /// Whether the socket has been closed (or never opened).
    var isClosed: Bool { lock.withLock { closed } }

    func markClosed() { lock.withLock { closed = true } }

    func stop() {
        lock.withLock { stopping = true }
        wakeFromOtherThread()
    }

    func release() {
        lock.withLock { released = true }
        wakeFromOtherThread()
    }

    /// Writes to the wake pipe unless called on the pump thread, which looks at its queues before it sleeps.
    func wakeFromOtherThread() {
        if !isOnPumpThread { wakePipe.wake() }
    }

    private func take() -> (messages: [[Frame]], jobs: [UnownedJob], stopping: Bool, released: Bool) {
        lock.withLock {
            defer {
                messages.removeAll(keepingCapacity: true)
                jobs.removeAll(keepingCapacity: true)
            }
            return (messages, jobs, stopping, released)
        }
    }

    private var hasWork: Bool {
        lock.withLock { !messages.isEmpty || !jobs.isEmpty }
    }

    private func runJobs(_ jobs: [UnownedJob]) {
        let executor = asUnownedSerialExecutor()
        for job in jobs { job.runSynchronously(on: executor) }
    }

    /// The pump thread's loop: run the actor's jobs, send, wait for the socket, the wake pipe or the
    /// mailbox's deadline, deliver; after stop, close the socket and keep running jobs until released.
    func run(socket: Socket, mailbox: Mailbox<[ReceivedFrame]>, limits: ReceiveLimits, onError: @escaping @Sendable (ZMQError) -> Void) {
        let poller = Poller()
        let socketIndex = poller.register(socket, for: .readable)
        let pipeIndex = poller.register(fileDescriptor: wakePipe.readDescriptor, for: .readable)
        self.socket = socket
        self.onError = onError
        while true {
            var work = take()
            runJobs(work.jobs)
            // The jobs may have queued messages: send them in this round.
            let late = take()
            pending += work.messages + late.messages
            runJobs(late.jobs)
            work.stopping = work.stopping || late.stopping
            guard flush() else { break }
            if work.stopping { break }

            var timeout = pending.isEmpty ? 1000 : 5
            if hasWork { timeout = 0 }
            if let deadline = mailbox.waiterDeadline {
                let remaining = deadline - ContinuousClock.now
                timeout = min(timeout, max(0, Int((remaining / .milliseconds(1)).rounded(.up))))
            }
            let look = mailbox.startLooking()
            let ready: PollResult
            do {
                ready = try poller.poll(timeout: timeout)
            } catch let error as ZMQError {
                if error.isContextTerminated { break }
                onError(error)
                continue
            } catch {
                break
            }
            if ready[pipeIndex].contains(.readable) { wakePipe.drain() }
            if ready[socketIndex].contains(.readable) {
                // Take everything that is waiting, not just one message per poll.
                for _ in 0..<1024 {
                    do {
                        guard let frames = try socket.tryReceiveMultipart(limits: limits) else { break }
                        mailbox.put(frames)
                    } catch let error as ZMQError {
                        if error.isContextTerminated { break }
                        onError(error)
                    } catch {
                        break
                    }
                }
            }
            mailbox.expire(now: .now, looked: look)
        }
        self.socket = nil
        socket.close()
        mailbox.finish()
    }

    /// After the socket is closed: run the actor's remaining and future jobs until the pump is released.
    func runJobsOnly() {
        while true {
            let work = take()
            runJobs(work.jobs)
            if work.released && !hasWork { return }
            if !hasWork { wakePipe.wait(milliseconds: 1000) }
        }
    }
}

/// The context a pump thread needs only to make its socket; taken once, so the thread does not keep it alive.
private final class ContextHolder: @unchecked Sendable {
    // Unchecked: `context` is guarded by `lock`.
    private let lock = NSLock()
    private var context: Context?

    init(_ context: Context) { self.context = context }

    func take() -> Context { lock.withLock { defer { context = nil }; return context! } }
}

/// The outcome of a pump's start, handed from its thread to the creating one.
private final class StartResult: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Result<String, any Error>?

    var value: Result<String, any Error>? { lock.withLock { stored } }

    func set(_ result: Result<String, any Error>) { lock.withLock { stored = result } }
}
