import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starts threads of their own (socket pumps, executors, handlers) with a bounded stack, and says
/// why when the system cannot start one instead of leaving the caller waiting for it.
public enum DedicatedThread {
    /// The stack a dedicated thread gets unless told otherwise: room for a worker's gradient
    /// computation, and a thousand of them fit in 4 GiB of address space (the system default is
    /// the stack limit, often 8 MiB each).
    public static let defaultStackSize = 4 << 20
    /// The stack of a thread that only drives sockets and runs actors' message handling.
    public static let messagingStackSize = 1 << 20

    /// Runs `body` on a new detached thread named `name` with `stackSize` bytes of stack; throws if
    /// the thread cannot be started (out of memory, address space or the thread limit).
    public static func start(name: String, stackSize: Int = defaultStackSize,
                             _ body: @escaping @Sendable () -> Void) throws(ThreadStartError) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, max(stackSize, 64 << 10))
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let box = Unmanaged.passRetained(ThreadBody(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { argument in
            let box = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
            // Foundation names the system thread too (Linux keeps its first 15 bytes).
            Thread.current.name = box.name
            box.body()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(box).release()
            throw ThreadStartError(name: name, code: result, stackSize: stackSize)
        }
    }
}

/// A thread that could not be started; the description names it, the system's reason and the
/// threads the process already runs.
public struct ThreadStartError: Error, Sendable, CustomStringConvertible {
    /// The thread's name.
    public var name: String
    /// pthread_create's error number.
    public var code: Int32
    /// The stack it asked for, in bytes.
    public var stackSize: Int

    public var description: String {
        let running = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count).map { "\($0)" } ?? "unknown"
        return "could not start the thread \"\(name)\": \(String(cString: strerror(code))) (\(running) threads running, "
            + "\(stackSize >> 20) MiB of stack each; a memory or address-space limit (ulimit -v, a cgroup) or the thread "
            + "limit (ulimit -u) is reached)"
    }
}

/// The closure a new thread runs, with its name, handed through pthread_create's argument.
private final class ThreadBody {
    let name: String
    let body: @Sendable () -> Void

    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}
