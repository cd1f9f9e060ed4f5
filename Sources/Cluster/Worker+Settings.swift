import Foundation
import Logging

extension Worker {
    /// How a worker talks to its server: its deadlines, heartbeats, security and logger.
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
        /// The push codec the worker expects the server's run to use (`trainer worker --compress`);
        /// nil takes the server's. A server with another one is an error on both sides.
        public var compress: CodecChoice?
        /// The weights codec the worker expects (`--compress-weights`); nil takes the server's.
        public var compressWeights: CodecChoice?
        /// In runs whose pushes overlap backward, the fewest gradient values a gradient-part carries:
        /// smaller ranges wait to go with the next part or with the push.
        public var minimumPartValues: Int
        /// Where the worker's lines go, with their level and metadata (rank, step); every message sent or
        /// received is a trace line (type, step and size, never the payload).
        public var logger: Logger

        /// Settings with every field given; the defaults suit a run on one host.
        public init(timeout: Duration = .seconds(60), reconnectTimeout: Duration = .zero,
                    heartbeatInterval: Duration = .seconds(1), heartbeatTimeout: Duration = .seconds(10),
                    security: WorkerSecurity? = nil, compress: CodecChoice? = nil, compressWeights: CodecChoice? = nil,
                    minimumPartValues: Int = Worker.defaultMinimumPartValues, logger: Logger = Logger(label: "trainer.worker")) {
            self.minimumPartValues = minimumPartValues
            self.compress = compress
            self.compressWeights = compressWeights
            self.timeout = timeout
            self.reconnectTimeout = reconnectTimeout
            self.heartbeatInterval = heartbeatInterval
            self.heartbeatTimeout = heartbeatTimeout
            self.security = security
            self.logger = logger
        }
    }
}
