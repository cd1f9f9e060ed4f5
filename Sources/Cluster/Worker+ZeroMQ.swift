import Datasets
import Engine
import ZeroMQ

extension Worker {
    /// Connects a DEALER socket on `context` to `endpoint` (as a CURVE client when `security` is given)
    /// and talks to the server over it; the other parameters are
    /// `init(transport:timeout:reconnectTimeout:heartbeatInterval:heartbeatTimeout:log:trace:prepare:)`'s.
    public init(
        context: Context, connect endpoint: String, timeout: Duration = .seconds(60), reconnectTimeout: Duration = .zero,
        heartbeatInterval: Duration = .seconds(1), heartbeatTimeout: Duration = .seconds(10),
        security: WorkerSecurity? = nil,
        log: @escaping @Sendable (String) -> Void = ParameterServer.standardError,
        trace: (@Sendable (String) -> Void)? = nil,
        prepare: @escaping @Sendable (TrainingConfiguration) throws -> Replica
    ) throws {
        let transport = try ZeroMQTransport(
            context: context, role: .client(connect: endpoint, curve: security), name: "worker", limits: .worker,
            // Keep a last gradient or error for up to a second after close().
            linger: .seconds(1),
            onError: { log("worker: socket error: \($0)") }
        )
        self.init(transport: transport, timeout: timeout, reconnectTimeout: reconnectTimeout,
                  heartbeatInterval: heartbeatInterval, heartbeatTimeout: heartbeatTimeout, log: log, trace: trace,
                  prepare: prepare)
    }

    /// A worker for a fixed training set and a model built by `makeModel` from the configuration.
    public init(
        context: Context, connect endpoint: String, trainingSet: LabeledDataset, testCount: Int = 0,
        objective: Objective = .classification, timeout: Duration = .seconds(60),
        log: @escaping @Sendable (String) -> Void = ParameterServer.standardError,
        trace: (@Sendable (String) -> Void)? = nil,
        makeModel: @escaping @Sendable (TrainingConfiguration) throws -> Model
    ) throws {
        try self.init(context: context, connect: endpoint, timeout: timeout, heartbeatTimeout: max(timeout, .seconds(2)),
                      log: log, trace: trace) { configuration in
            Replica(model: try makeModel(configuration), trainingSet: trainingSet, testCount: testCount, objective: objective)
        }
    }

}
