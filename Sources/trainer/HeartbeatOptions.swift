import ArgumentParser

/// The heartbeat flags that `trainer server` (and `local`) and `trainer worker` share.
struct HeartbeatOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Seconds between heartbeats to the other side while it waits: the server's to a worker it has sent nothing else, a worker's to the server.")
    var heartbeatInterval: Double = 1

    @Option(parsing: .unconditional, help: "Seconds of silence after which the other side counts as lost: the server drops the worker (in sync mode the others then compute the step again without it, so no sample is skipped); a worker, during training, tries to join again.")
    var heartbeatTimeout: Double = 10

    func validate() throws {
        if !(heartbeatInterval > 0 && heartbeatTimeout > heartbeatInterval) {
            throw ValidationError("--heartbeat-interval must be positive and shorter than --heartbeat-timeout")
        }
    }
}
