import ZeroMQ

/// A parameter server's CURVE settings: its own secret key and the workers' public keys it admits.
public struct ServerSecurity: Sendable {
    /// The server's secret key, 40 characters of Z85.
    public var secretKey: String
    /// The public keys of the workers allowed to connect.
    public var authorizedKeys: AuthorizedKeys

    /// Settings with every field given.
    public init(secretKey: String, authorizedKeys: AuthorizedKeys) {
        self.secretKey = secretKey
        self.authorizedKeys = authorizedKeys
    }
}

/// A worker's CURVE settings: the server's public key and the worker's own key pair.
public struct WorkerSecurity: Sendable {
    /// The server's public key, 40 characters of Z85.
    public var serverPublicKey: String
    /// The worker's key pair; the server must list its public key.
    public var keyPair: CurveKeyPair

    /// Settings with every field given.
    public init(serverPublicKey: String, keyPair: CurveKeyPair) {
        self.serverPublicKey = serverPublicKey
        self.keyPair = keyPair
    }
}
