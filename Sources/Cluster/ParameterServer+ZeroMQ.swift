import ZeroMQ

extension ParameterServer {
    /// Binds a ROUTER socket at `endpoint` on `context` and serves over it (see
    /// `init(transport:weights:fingerprint:configuration:dataset:settings:resume:events:)`); with
    /// `settings.security` the socket is a CURVE server and a ZAP handler on `context` admits only
    /// the listed workers. In a sharded run every shard has the same CURVE key pair: shard 0 also admits
    /// that key, and shards 1…S−1 connect to shard 0 with it to send their ranges at each epoch's end.
    public init(
        context: Context, bind endpoint: String, weights: [Float], fingerprint: UInt64,
        configuration: TrainingConfiguration, dataset: DatasetDescription, settings: Settings = Settings(),
        resume: ServerState? = nil, events: Events = Events()
    ) throws {
        let logger = events.logger
        var settings = settings
        if configuration.shardCount > 1, var curve = settings.security {
            let own = try CurveKeyPair.publicKey(fromSecret: curve.secretKey)
            if !curve.authorizedKeys.publicKeys.contains(own) {
                curve.authorizedKeys = try AuthorizedKeys(publicKeys: curve.authorizedKeys.publicKeys + [own])
            }
            settings.security = curve
        }
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
        var shardLink: ZeroMQTransport?
        if settings.shardIndex > 0 {
            let leader = configuration.shards[0]
            let curve = try settings.security.map { curve in
                let own = try CurveKeyPair.publicKey(fromSecret: curve.secretKey)
                return ZeroMQTransport.CurveClient(serverPublicKey: own, keyPair: try CurveKeyPair(publicKey: own, secretKey: curve.secretKey))
            }
            shardLink = try ZeroMQTransport(
                context: context, role: .client(connect: leader, curve: curve), name: "shard-link", limits: .worker,
                linger: .seconds(1), onError: { socketLog("parameter server: socket error (to shard 1, \(leader)): \($0)") })
        }
        try self.init(transport: transport, weights: weights, fingerprint: fingerprint, configuration: configuration,
                      dataset: dataset, settings: settings, resume: resume, events: events, shardLink: shardLink)
    }
}
