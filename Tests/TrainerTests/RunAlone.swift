import Foundation
import Testing

/// Tests that exhaust a resource on purpose (threads, address space, file descriptors), or keep both
/// cores busy for minutes (five 3-epoch CNN runs; up to five MNIST processes at once for the server
/// shards, beside which 30 in-process socket tests hit their 10 s step timeouts), and so must not share the machine with the rest of
/// the suite: thousands of threads, even niced, starve the socket tests beside them into their timeouts. They run in a second `swift test` of their own,
/// which the README's test command and CI start after the suite.
enum RunAlone {
    /// The environment variable that asks for them.
    static let variable = "TRAINER_RUN_ALONE"
    /// The `swift test --filter` that selects them.
    static let filter = "ManyWorkersTests|DescriptorFloodTests|CNNQualityTests|ShardProcessTests"
    /// True when this `swift test` is the run of its own.
    static var isThisRun: Bool { ProcessInfo.processInfo.environment[variable] == "1" }
    /// The skip reason shown everywhere else.
    static let skipped: Comment = "runs alone, after the suite: \(variable)=1 swift test -c release -Xswiftc -enable-testing --filter '\(filter)'"
}
