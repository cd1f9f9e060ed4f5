import ZeroMQ

extension ParameterServer {
    /// Binds a ROUTER socket at `endpoint` on `context` and serves over it (see
    /// `init(transport:weights:fingerprint:configuration:dataset:settings:resume:events:)`); with
    /// `settings.security` the socket is a CURVE server and a ZAP handler on `context` admits only
    /// the listed workers.
    public init(
        context: Context, bind endpoint: String, weights: [Float], fingerprint: UInt64,
        configuration: TrainingConfiguration, dataset: DatasetDescription, settings: Settings = Settings(),
        resume: ServerState? = nil, events: Events = Events()
    ) throws {
        let logger = events.logger
        let socketLog = ThrottledLog(limit: settings.peerLinesPerSecond, logger: logger)
        let transport = try ZeroMQTransport(
            context: context, role: .server(bind: endpoint, curve: settings.security), name: "parameter-server",
            limits: .parameterServer(parameterCount: weights.count),
            maxFrameBytes: ProtocolLimits.maximumFrameBytes(parameterCount: weights.count),
            // Keep queued weights and stop messages for up to a second after close().
            linger: .seconds(1),
            onError: { socketLog("parameter server: socket error: \($0)") }, log: { logger.warning("\($0)") },
            onAcceptFailure: { logger.error("parameter server: \($0)") }
        )
        try self.init(transport: transport, weights: weights, fingerprint: fingerprint, configuration: configuration,
                      dataset: dataset, settings: settings, resume: resume, events: events)
    }
}
