import Foundation
import Transport

/// The ZeroMQ transport: one socket (tcp, ipc or inproc) driven by its `SocketPump`, with the
/// options, the CURVE keys and the ZAP handler it was made with inside it.
public final class ZeroMQTransport: MessageTransport {
    /// Where the socket binds or connects.
    public enum Role: Sendable {
        /// A ROUTER bound at the endpoint, as a CURVE server admitting `curve`'s keys when given.
        case server(bind: String, curve: CurveServer?)
        /// A DEALER connected to the endpoint, as a CURVE client when `curve` is given.
        case client(connect: String, curve: CurveClient?)
    }

    /// A CURVE server's secret key and the public keys it admits.
    public struct CurveServer: Sendable {
        /// The server's secret key, 40 characters of Z85.
        public var secretKey: String
        /// The clients admitted.
        public var authorizedKeys: AuthorizedKeys

        /// Settings with every field given.
        public init(secretKey: String, authorizedKeys: AuthorizedKeys) {
            self.secretKey = secretKey
            self.authorizedKeys = authorizedKeys
        }
    }

    /// A CURVE client's view of its server and its own keys.
    public struct CurveClient: Sendable {
        /// The server's public key, 40 characters of Z85.
        public var serverPublicKey: String
        /// The client's key pair.
        public var keyPair: CurveKeyPair

        /// Settings with every field given.
        public init(serverPublicKey: String, keyPair: CurveKeyPair) {
            self.serverPublicKey = serverPublicKey
            self.keyPair = keyPair
        }
    }

    private let pump: SocketPump
    /// Admits only listed clients when the server runs CURVE; it lives as long as the socket.
    private let zap: ZAPHandler?
    /// Reports the connections a server socket could not accept; it lives as long as the socket.
    private let monitor: ConnectionMonitor?

    public var endpoint: String { pump.endpoint }
    public var unownedExecutor: UnownedSerialExecutor { pump.unownedExecutor }

    /// Opens the socket of `role` on `context` on a thread named `name`. `limits` bound every
    /// received message, `maxFrameBytes` (when given) each frame before libzmq buffers it (with
    /// CURVE, plus its overhead), `linger` how long queued messages may still leave after close.
    /// `onError` hears the send and receive failures the transport survives (the message concerned
    /// is dropped), `log` the ZAP handler's refusals. A server closes connections that have not
    /// finished their handshake within `handshakeTimeout`, so idle strangers cannot hold its file
    /// descriptors, and tells `onAcceptFailure` of each connection it could not accept.
    public init(context: Context, role: Role, name: String, limits: ReceiveLimits = .unlimited,
                maxFrameBytes: Int? = nil, linger: Duration = .seconds(1), handshakeTimeout: Duration = .seconds(10),
                onError: @escaping @Sendable (ZMQError) -> Void = { _ in },
                log: @escaping @Sendable (String) -> Void = { _ in },
                onAcceptFailure: (@Sendable (String) -> Void)? = nil) throws {
        var zap: ZAPHandler?
        if case .server(_, let curve?) = role {
            // The handler runs before the socket binds, so no connection is ever admitted unchecked.
            zap = try ZAPHandler(context: context, authorizedKeys: curve.authorizedKeys, log: log)
        }
        let lingerMilliseconds = Int32(clamping: Int((linger / .milliseconds(1)).rounded()))
        let handshakeMilliseconds = Int32(clamping: Int((handshakeTimeout / .milliseconds(1)).rounded()))
        let monitorEndpoint = onAcceptFailure == nil ? nil : "inproc://connection-monitor.\(UUID().uuidString)"
        pump = try SocketPump(
            context: context, type: role.socketType, name: name, limits: limits,
            onError: onError,
            setUp: { socket in
                switch role {
                case .server(let endpoint, let curve):
                    if let curve { try socket.makeCurveServer(secretKey: curve.secretKey) }
                    if let maxFrameBytes {
                        // libzmq drops a peer that sends a larger frame before buffering it; with CURVE
                        // it counts the encrypted frame.
                        try socket.set(.maxMessageSize, Int64(maxFrameBytes + (curve == nil ? 0 : Socket.curveFrameOverhead)))
                    }
                    try socket.set(.linger, lingerMilliseconds)
                    try socket.set(.handshakeInterval, handshakeMilliseconds)
                    if let monitorEndpoint { try socket.startMonitor(monitorEndpoint) }
                    try socket.bind(endpoint)
                case .client(let endpoint, let curve):
                    if let curve { try socket.makeCurveClient(serverPublicKey: curve.serverPublicKey, keyPair: curve.keyPair) }
                    if let maxFrameBytes { try socket.set(.maxMessageSize, Int64(maxFrameBytes)) }
                    try socket.set(.linger, lingerMilliseconds)
                    try socket.connect(endpoint)
                }
            }
        )
        self.zap = zap
        if let monitorEndpoint, let onAcceptFailure, case .server = role {
            monitor = try ConnectionMonitor(context: context, endpoint: monitorEndpoint, report: onAcceptFailure)
        } else {
            monitor = nil
        }
    }

    @discardableResult
    public func send(_ frames: [Frame]) -> Bool {
        pump.send(frames)
    }

    public func receive(before deadline: ContinuousClock.Instant, isolation: isolated (any Actor)?) async -> [any IncomingFrame]? {
        await pump.mailbox.next(before: deadline, isolation: isolation)
    }

    public var isFinished: Bool { pump.mailbox.isFinished }

    public func interrupt() {
        pump.mailbox.interrupt()
    }

    /// Closes the socket and returns once the pump thread has closed it; its last messages leave
    /// within the linger when the context ends (release every socket's owner, then the context).
    public func close() async {
        await pump.closeAndWait()
        zap?.close()
        monitor?.close()
    }
}

extension ZeroMQTransport.Role {
    var socketType: SocketType {
        switch self {
        case .server: .router
        case .client: .dealer
        }
    }
}
