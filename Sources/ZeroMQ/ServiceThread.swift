import Foundation
import Synchronization
import Transport

/// A dedicated thread that serves a socket of its own in this process (the ZAP handler, the
/// connection monitor), and what it and its owner share: the stop flag, the wake-up pipe that ends
/// its poll at once, and the signals that it has started and ended.
final class ServiceThread: Sendable {
    /// Written by `stop()`; the thread polls its read end beside its socket.
    let wakePipe: WakePipe
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let name: String
    private let start = Mutex<StartState>(.pending)
    private let startSignal = DispatchSemaphore(value: 0)
    private let finishSignal = DispatchSemaphore(value: 0)

    private enum StartState { case pending, ready, failed(ZMQError) }

    private init(name: String) throws {
        self.name = name
        wakePipe = try WakePipe(name: name)
    }

    /// Runs `body` on a new thread named `name`; returns once `body` has called `started(_:)` (or
    /// ended), throwing the error it passed. `body` should return when `isStopping` turns true.
    static func start(name: String, _ body: @escaping @Sendable (ServiceThread) -> Void) throws -> ServiceThread {
        let thread = try ServiceThread(name: name)
        try DedicatedThread.start(name: name, stackSize: 256 << 10) {
            defer { thread.markFinished() }
            body(thread)
        }
        if let error = thread.waitUntilStarted() { throw error }
        return thread
    }

    /// Whether the owner asked the thread to end.
    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Whether the thread has ended.
    var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Called once by the thread when it is ready to serve (nil) or cannot (the error `start` throws).
    func started(_ error: ZMQError?) {
        start.withLock { $0 = error.map(StartState.failed) ?? .ready }
        startSignal.signal()
    }

    private func waitUntilStarted() -> ZMQError? {
        startSignal.wait()
        return start.withLock { if case .failed(let error) = $0 { error } else { nil } }
    }

    private func markFinished() {
        finished.store(true, ordering: .releasing)
        // A body that ended without saying it started lets `start` return, with an error.
        let silent = start.withLock { state in
            guard case .pending = state else { return false }
            state = .failed(ZMQError(code: EFAULT, operation: "start \(name): the thread ended before it was ready"))
            return true
        }
        if silent { startSignal.signal() }
        finishSignal.signal()
    }

    /// Asks the thread to end and waits up to 10 s for it; every caller returns once it has ended.
    func stop() {
        if !stopping.exchange(true, ordering: .acquiringAndReleasing) { wakePipe.wake() }
        if isFinished { return }
        // Hand the signal on, so every caller of stop() returns once the thread has ended.
        if finishSignal.wait(timeout: .now() + 10) == .success { finishSignal.signal() }
    }
}
