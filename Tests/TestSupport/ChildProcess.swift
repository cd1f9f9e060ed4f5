import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, with the part of Foundation's `Process` API the tests
/// use. Foundation's `Process.run()` on Linux copies a whole 256-byte `d_name` from each entry of
/// `/proc/self/fd` (swift-corelibs-foundation issue 5472, fixed after Swift 6.3): with many
/// descriptors open, the copy reads past glibc's directory buffer and the test process crashes
/// ("Bad pointer dereference" in `Process.run()`, or later in whatever used that memory).
public final class ChildProcess: @unchecked Sendable {
    // Unchecked: the configuration is set before `run()` on one thread; `state` is guarded by `lock`.

    /// How a process ended.
    public enum TerminationReason: Sendable {
        /// It called exit (or returned from main).
        case exit
        /// A signal ended it.
        case uncaughtSignal
    }

    /// The program to run.
    public var executableURL: URL?
    /// Its arguments, without the program itself.
    public var arguments: [String] = []
    /// Its environment; nil inherits this process's.
    public var environment: [String: String]?
    /// The folder it starts in; nil inherits this process's.
    public var currentDirectoryURL: URL?
    /// Where its standard input, output and error go; nil inherits this process's.
    public var standardInput: FileHandle?
    public var standardOutput: FileHandle?
    public var standardError: FileHandle?

    private let lock = NSLock()
    private var pid: pid_t = 0
    private var status: Int32?

    public init() {}

    /// The process identifier (0 before `run()`).
    public var processIdentifier: Int32 { lock.withLock { pid } }

    /// Starts the process; throws with the system's reason when it cannot.
    public func run() throws {
        guard let executableURL else { throw ChildProcessError(program: "(none)", code: EINVAL) }
        let path = executableURL.path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (handle, target) in [(standardInput, Int32(0)), (standardOutput, 1), (standardError, 2)] {
            if let handle { posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, target) }
        }
        // Nothing else of this process's descriptors reaches the child.
        if let addCloseFrom = GNUSpawn.addCloseFrom { _ = addCloseFrom(&actions, 3) }
        if let folder = currentDirectoryURL?.path {
            guard let addChangeDirectory = GNUSpawn.addChangeDirectory else { throw ChildProcessError(program: path, code: ENOSYS) }
            _ = addChangeDirectory(&actions, folder)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let variables = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var child: pid_t = 0
        let result = withCStrings([path] + arguments) { argv in
            withCStrings(variables) { envp in posix_spawn(&child, path, &actions, &attributes, argv, envp) }
        }
        guard result == 0 else { throw ChildProcessError(program: path, code: result) }
        lock.withLock { pid = child }
    }

    /// Whether the process has not ended yet (reaps it once it has).
    public var isRunning: Bool {
        lock.withLock {
            guard pid > 0, status == nil else { return false }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = raw }
            return status == nil
        }
    }

    /// Blocks until the process has ended.
    public func waitUntilExit() {
        while isRunning { usleep(1000) }
    }

    /// Sends SIGTERM.
    public func terminate() { signal(SIGTERM) }

    /// Sends SIGINT.
    public func interrupt() { signal(SIGINT) }

    private func signal(_ number: Int32) {
        lock.withLock { if pid > 0 && status == nil { _ = kill(pid, number) } }
    }

    /// The exit status, or the signal's number when a signal ended it (valid once it has ended).
    public var terminationStatus: Int32 {
        let raw = lock.withLock { status ?? 0 }
        return raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f
    }

    /// Whether it exited or a signal ended it (valid once it has ended).
    public var terminationReason: TerminationReason {
        lock.withLock { status ?? 0 } & 0x7f == 0 ? .exit : .uncaughtSignal
    }
}

/// A process that could not be started; the description names the program and the system's reason.
public struct ChildProcessError: Error, CustomStringConvertible {
    /// The program's path.
    public var program: String
    /// posix_spawn's error number.
    public var code: Int32

    public var description: String { "could not start \(program): \(String(cString: strerror(code)))" }
}

/// glibc's posix_spawn extensions (2.29 and 2.34), which its headers declare only for _GNU_SOURCE and
/// Swift's Glibc module therefore leaves out: looked up at run time.
private enum GNUSpawn {
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    static let addCloseFrom: CloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")
    static let addChangeDirectory: ChangeDirectory? = symbol("posix_spawn_file_actions_addchdir_np")

    private static func symbol<T>(_ name: String) -> T? {
        // RTLD_DEFAULT is the null handle on glibc.
        dlsym(nil, name).map { unsafeBitCast($0, to: T.self) }
    }
}

/// Calls `body` with a NULL-terminated C array of `strings`.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
