import CZeroMQ

extension SocketOption where Value == Bool {
    /// Makes the socket the CURVE server of its connections (needs `.curveSecretKey`); set before `bind`.
    public static var curveServer: Self { .init(ZMQ_CURVE_SERVER, name: "ZMQ_CURVE_SERVER") }
}

extension SocketOption where Value == String {
    /// The socket's own CURVE public key as 40-character Z85 (a client sets it; a server need not).
    public static var curvePublicKey: Self { .init(ZMQ_CURVE_PUBLICKEY, name: "ZMQ_CURVE_PUBLICKEY", capacity: Z85.keyLength + 1) }
    /// The socket's own CURVE secret key as 40-character Z85; errors never quote it.
    public static var curveSecretKey: Self { .init(ZMQ_CURVE_SECRETKEY, name: "ZMQ_CURVE_SECRETKEY", capacity: Z85.keyLength + 1) }
    /// A CURVE client's expected server public key as 40-character Z85; set before `connect`.
    public static var curveServerKey: Self { .init(ZMQ_CURVE_SERVERKEY, name: "ZMQ_CURVE_SERVERKEY", capacity: Z85.keyLength + 1) }
    /// The ZAP domain a server socket's connections are authenticated in; setting one also sends
    /// NULL-mechanism connections to the ZAP handler (see `ZAPHandler`).
    public static var zapDomain: Self { .init(ZMQ_ZAP_DOMAIN, name: "ZMQ_ZAP_DOMAIN") }
}

extension Socket {
    /// The bytes CURVE adds to every frame on the wire (the MESSAGE command name, nonce, MAC and flags byte).
    /// `.maxMessageSize` counts them on a CURVE socket: a bound for N-byte frames must be N plus this.
    public static let curveFrameOverhead = 33

    /// Makes this socket a CURVE server with the Z85 `secretKey`; call before `bind`.
    ///
    /// CURVE alone encrypts and proves the server's identity but admits any client key pair: run a
    /// `ZAPHandler` on the same context to admit only listed client public keys.
    public func makeCurveServer(secretKey: String) throws {
        try CurveKeyError.validate(secretKey, as: "secret key")
        try set(.curveServer, true)
        try set(.curveSecretKey, secretKey)
    }

    /// Makes this socket a CURVE client of the server with Z85 public key `serverPublicKey`, using `keyPair`; call before `connect`.
    public func makeCurveClient(serverPublicKey: String, keyPair: CurveKeyPair) throws {
        try CurveKeyError.validate(serverPublicKey, as: "server public key")
        try set(.curveServerKey, serverPublicKey)
        try set(.curvePublicKey, keyPair.publicKey)
        try set(.curveSecretKey, keyPair.secretKey)
    }
}
