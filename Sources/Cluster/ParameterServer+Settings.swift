import Foundation
import Logging

extension ParameterServer {
    /// How a parameter server runs: its workers, deadlines, heartbeats, security and state file.
    /// Every field has a default; set the ones a run needs.
    public struct Settings: Sendable {
        /// The number of workers the first step waits for (async and SSP: the fixed number of ranks).
        public var worldSize: Int
        /// The most workers taking part at once (sync mode grows up to it as workers join); nil: `worldSize`.
        public var maximumWorkers: Int?
        /// The most steps to take (per rank in async and SSP mode); nil: all of the epochs'.
        public var maxSteps: Int?
        /// How long the first step waits for `worldSize` workers.
        public var joinTimeout: Duration
        /// How long a step may wait before the server gives up and names the missing workers.
        public var stepTimeout: Duration
        /// A worker the server has sent nothing for this long is sent a heartbeat.
        public var heartbeatInterval: Duration
        /// A worker not heard from for this long is dropped.
        public var heartbeatTimeout: Duration
        /// CURVE encryption and the workers' keys the server admits; nil: plain and open.
        public var security: ServerSecurity?
        /// Where the whole state is written durably (every `checkpointEvery` steps, at each epoch end and when stopped).
        public var stateFile: String?
        /// Steps (async and SSP: pushes) between state files; 0: only at epoch ends.
        public var checkpointEvery: Int
        /// The most lines about dropped, refused or rejected messages a second (nil: all); the rest are summarised.
        public var peerLinesPerSecond: Int?
        /// How often `Events.onStatus` hears the progress.
        public var statusInterval: Duration
        /// How long a sync or SSP step may wait on one worker before the server names it as a straggler.
        public var stragglerThreshold: Duration
        /// How large a pushed gradient may be; larger ones are rejected and counted (see `GradientGuard`).
        public var maxGradientNorm: GradientBound
        /// The most workers that wait for a place while every place is taken (nil: as many as the server
        /// takes); a worker beyond them is refused.
        public var maximumWaiting: Int?
        /// Which shard of the configuration's `shards` this server is (0 when it holds every parameter):
        /// it owns `ShardLayout.range(of:shards:count:)` of them; shard 0 gives the workers their ranks.
        public var shardIndex: Int

        /// Settings for `worldSize` workers; the other defaults suit a run on one host.
        public init(worldSize: Int = 1, maximumWorkers: Int? = nil, maxSteps: Int? = nil, joinTimeout: Duration = .seconds(60),
                    stepTimeout: Duration = .seconds(60), heartbeatInterval: Duration = .seconds(1),
                    heartbeatTimeout: Duration = .seconds(10), security: ServerSecurity? = nil, stateFile: String? = nil,
                    checkpointEvery: Int = 0, peerLinesPerSecond: Int? = 20, statusInterval: Duration = .milliseconds(250),
                    stragglerThreshold: Duration = .seconds(2), maxGradientNorm: GradientBound = .standard,
                    maximumWaiting: Int? = nil, shardIndex: Int = 0) {
            self.worldSize = worldSize
            self.maximumWorkers = maximumWorkers
            self.maxSteps = maxSteps
            self.joinTimeout = joinTimeout
            self.stepTimeout = stepTimeout
            self.heartbeatInterval = heartbeatInterval
            self.heartbeatTimeout = heartbeatTimeout
            self.security = security
            self.stateFile = stateFile
            self.checkpointEvery = checkpointEvery
            self.peerLinesPerSecond = peerLinesPerSecond
            self.statusInterval = statusInterval
            self.stragglerThreshold = stragglerThreshold
            self.maxGradientNorm = maxGradientNorm
            self.maximumWaiting = maximumWaiting
            self.shardIndex = shardIndex
        }
    }

    /// What a parameter server tells its owner as training goes. `onStatus` is called on the server's
    /// actor; the others one at a time, in order, on the server's reporting thread (so an epoch's
    /// evaluation or checkpoint does not hold up the socket), and all of them before `run()` returns.
    public struct Events: Sendable {
        /// Where log lines go, with a level and metadata (rank, step, peer); every message sent or received
        /// is a trace line (type, step and size, never the payload).
        public var logger: Logger
        /// A worker joined or was dropped.
        public var onMembershipChange: (@Sendable (MembershipChange) -> Void)?
        /// The progress and each worker's state, every `Settings.statusInterval`.
        public var onStatus: (@Sendable (ServerStatus) -> Void)?
        /// A step waited on one worker for longer than `Settings.stragglerThreshold`.
        public var onStraggler: (@Sendable (Straggler) -> Void)?
        /// An epoch's last update was applied.
        public var onEpochEnd: (@Sendable (EpochSummary) -> Void)?

        /// Events with every handler given; by default only log lines, through swift-log's bootstrapped handler.
        public init(logger: Logger = Logger(label: "trainer.parameter-server"),
                    onMembershipChange: (@Sendable (MembershipChange) -> Void)? = nil,
                    onStatus: (@Sendable (ServerStatus) -> Void)? = nil,
                    onStraggler: (@Sendable (Straggler) -> Void)? = nil,
                    onEpochEnd: (@Sendable (EpochSummary) -> Void)? = nil) {
            self.logger = logger
            self.onMembershipChange = onMembershipChange
            self.onStatus = onStatus
            self.onStraggler = onStraggler
            self.onEpochEnd = onEpochEnd
        }
    }
}
