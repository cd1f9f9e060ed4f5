import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A CURVE (Curve25519) key pair as 40-character Z85 text, for `Socket.makeCurveServer(secretKey:)`
/// and `Socket.makeCurveClient(serverPublicKey:keyPair:)`.
///
/// The secret key never appears in the pair's `description`, `debugDescription` or mirror, so
/// interpolating, printing or dumping a pair shows only its public key; nor does any error of this
/// module quote a key's text. Only reading `secretKey` itself yields the secret.
public struct CurveKeyPair: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The public key, 40 characters of Z85: safe to share.
    public let publicKey: String
    /// The secret key, 40 characters of Z85: keep it private.
    public let secretKey: String

    /// A pair from its Z85 texts; throws `CurveKeyError` unless both are Z85 keys and `publicKey` belongs to `secretKey`.
    public init(publicKey: String, secretKey: String) throws {
        try CurveKeyError.validate(publicKey, as: "public key")
        let derived = try Self.publicKey(fromSecret: secretKey)
        guard derived == publicKey else {
            throw CurveKeyError("the public key does not belong to the secret key")
        }
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    private init(validatedPublicKey publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A new random key pair (`zmq_curve_keypair`); throws `ENOTSUP` if libzmq was built without CURVE.
    public static func generate() throws -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: Z85.keyLength + 1)
        var secretText = [CChar](repeating: 0, count: Z85.keyLength + 1)
        defer { wipe(&secretText) }
        if zmq_curve_keypair(&publicText, &secretText) != 0 {
            throw ZMQError.last("generate a CURVE key pair")
        }
        return CurveKeyPair(validatedPublicKey: string(publicText), secretKey: string(secretText))
    }

    /// The Z85 public key that belongs to the Z85 secret key `secretKey` (`zmq_curve_public`).
    public static func publicKey(fromSecret secretKey: String) throws -> String {
        try CurveKeyError.validate(secretKey, as: "secret key")
        var publicText = [CChar](repeating: 0, count: Z85.keyLength + 1)
        var secretText = Array(secretKey.utf8CString)
        defer { wipe(&secretText) }
        if zmq_curve_public(&publicText, &secretText) != 0 {
            throw ZMQError.last("derive a CURVE public key")
        }
        return string(publicText)
    }

    /// Whether `text` is a 40-character Z85 key (the form of both public and secret keys).
    public static func isValidKey(_ text: String) -> Bool {
        Z85.keyProblem(text) == nil
    }

    /// "CurveKeyPair(publicKey: …, secretKey: <redacted>)".
    public var description: String { "CurveKeyPair(publicKey: \(publicKey), secretKey: <redacted>)" }

    /// The same as `description`: the secret key is never shown.
    public var debugDescription: String { description }

    /// A mirror with the public key only, so `dump` and reflection never show the secret key.
    public var customMirror: Mirror {
        Mirror(self, children: ["publicKey": publicKey, "secretKey": "<redacted>"], displayStyle: .struct)
    }

    private static func string(_ text: [CChar]) -> String {
        String(decoding: text.prefix(Z85.keyLength).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Best effort: overwrites a temporary copy of a secret (Swift strings themselves cannot be wiped).
    private static func wipe(_ text: inout [CChar]) {
        text.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { memset(base, 0, buffer.count) }
        }
    }
}

/// A text that is not a Z85 CURVE key, or a public key that does not belong to its secret key.
///
/// The message says what is wrong (length, position of a bad character) but never quotes the text.
public struct CurveKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// For example "the secret key has 39 characters instead of 40".
    public let description: String

    /// An error with `description`.
    public init(_ description: String) {
        self.description = description
    }

    /// Throws unless `text` is a 40-character Z85 key; `role` ("secret key") names it in the message.
    static func validate(_ text: String, as role: String) throws {
        if let problem = Z85.keyProblem(text) {
            throw CurveKeyError("the \(role) \(problem.explanation)")
        }
    }
}
