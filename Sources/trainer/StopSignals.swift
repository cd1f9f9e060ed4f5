import Cluster
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT and SIGTERM into a graceful stop of a parameter server: it tells the workers to stop,
/// and the command saves the weights and exits 0. A second signal of the same kind ends the process
/// at once, as a user pressing Ctrl-C twice expects.
final class StopSignals {
    private var sources: [any DispatchSourceSignal] = []

    /// Starts listening; `server.requestStop` is called with "SIGINT" or "SIGTERM".
    init(stopping server: ParameterServer) {
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            let count = Counter()
            source.setEventHandler {
                if count.increment() > 1 {
                    signal(number, SIG_DFL)
                    raise(number)
                }
                Logger(label: "trainer").notice("trainer: \(name): stopping the workers and saving the weights")
                server.requestStop(reason: name)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Stops listening and restores the default actions.
    func cancel() {
        for source in sources { source.cancel() }
        sources = []
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// How many times a handler has run.
private final class Counter: @unchecked Sendable {
    // Unchecked: `value` is guarded by `lock`.
    private let lock = NSLock()
    private var value = 0

    func increment() -> Int { lock.withLock { value += 1; return value } }
}
