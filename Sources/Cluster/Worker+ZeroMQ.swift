import Datasets
import Engine
import ZeroMQ

extension Worker {
    /// Connects a DEALER socket on `context` to `endpoint` (as a CURVE client when `settings.security`
    /// is given) and talks to the server over it as `settings` say, and in a sharded run one more to
    /// each other shard (with the same server key: every shard of a CURVE run shares one key pair);
    /// `prepare` builds the replica from the server's configuration.
    public init(context: Context, connect endpoint: String, settings: Settings = Settings(),
                prepare: @escaping @Sendable (TrainingConfiguration) throws -> Replica) throws {
        let logger = settings.logger
        let open = { @Sendable (endpoint: String, name: String) throws -> any MessageTransport in
            try ZeroMQTransport(
                context: context, role: .client(connect: endpoint, curve: settings.security), name: name, limits: .worker,
                // Keep a last gradient or error for up to a second after close().
                linger: .seconds(1),
                onError: { logger.error("worker: socket error (\(endpoint)): \($0)") }
            )
        }
        self.init(transport: try open(endpoint, "worker"), settings: settings, connect: { try open($0, "worker-shard") }, prepare: prepare)
    }

    /// A worker for a fixed training set and a model built by `makeModel` from the configuration.
    public init(context: Context, connect endpoint: String, trainingSet: LabeledDataset, testCount: Int = 0,
                objective: Objective = .classification, settings: Settings = Settings(),
                makeModel: @escaping @Sendable (TrainingConfiguration) throws -> Model) throws {
        try self.init(context: context, connect: endpoint, settings: settings) { configuration in
            Replica(model: try makeModel(configuration), trainingSet: trainingSet, testCount: testCount, objective: objective)
        }
    }
}
