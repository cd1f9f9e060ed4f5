import Foundation

extension Worker {
    /// How a worker talks to its server: its deadlines, heartbeats, security and log lines.
    /// Every field has a default; set the ones a run needs.
    public struct Settings: Sendable {
        /// How long each wait for the server may take before the worker takes part (setup, welcome).
        public var timeout: Duration
        /// How long a worker that lost its server after joining tries to join again (0: it gives up at once).
        public var reconnectTimeout: Duration
        /// While taking part, the worker sends a heartbeat whenever it has sent nothing for this long.
        public var heartbeatInterval: Duration
        /// While taking part, the worker gives the server up after this long without a message from it.
        public var heartbeatTimeout: Duration
        /// CURVE encryption with the server's public key and the worker's key pair; nil: plain.
        public var security: WorkerSecurity?
        /// A log line (to standard error by default).
        public var log: @Sendable (String) -> Void
        /// A line per message sent or received: type, step and size, never the payload (nil: none).
        public var trace: (@Sendable (String) -> Void)?

        /// Settings with every field given; the defaults suit a run on one host.
        public init(timeout: Duration = .seconds(60), reconnectTimeout: Duration = .zero,
                    heartbeatInterval: Duration = .seconds(1), heartbeatTimeout: Duration = .seconds(10),
                    security: WorkerSecurity? = nil,
                    log: @escaping @Sendable (String) -> Void = ParameterServer.standardError,
                    trace: (@Sendable (String) -> Void)? = nil) {
            self.timeout = timeout
            self.reconnectTimeout = reconnectTimeout
            self.heartbeatInterval = heartbeatInterval
            self.heartbeatTimeout = heartbeatTimeout
            self.security = security
            self.log = log
            self.trace = trace
        }
    }
}
