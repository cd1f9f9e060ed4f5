import Foundation
import Synchronization
import Testing
import TestSupport
@testable import ZeroMQ

/// The lines a ZAP handler logs, collected from its thread.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])

    /// The closure to give the handler.
    var sink: @Sendable (String) -> Void { { [self] line in lines.withLock { $0.append(line) } } }

    /// Every line so far.
    var all: [String] { lines.withLock { $0 } }

    /// The lines that contain `text`.
    func containing(_ text: String) -> [String] { all.filter { $0.contains(text) } }
}

/// A ROUTER bound as a CURVE server on 127.0.0.1 with an OS-picked port.
private func curveServer(_ context: Context, _ keys: CurveKeyPair) throws -> (router: Socket, endpoint: String) {
    let router = try context.socket(.router)
    try router.makeCurveServer(secretKey: keys.secretKey)
    try router.bind("tcp://127.0.0.1:*")
    return (router, try router.lastEndpoint)
}

/// A DEALER CURVE client of `endpoint` that expects the server key `serverKey`.
private func curveClient(_ context: Context, _ endpoint: String, serverKey: String, keys: CurveKeyPair) throws -> Socket {
    let dealer = try context.socket(.dealer)
    try dealer.makeCurveClient(serverPublicKey: serverKey, keyPair: keys)
    try dealer.connect(endpoint)
    return dealer
}

/// Every spelling of `value` that printing, interpolating, reflecting or dumping produces.
private func renderings(_ value: some Any) -> [String] {
    var dumped = ""
    dump(value, to: &dumped)
    return ["\(value)", String(describing: value), String(reflecting: value), dumped]
}

@Suite("CURVE keys and encrypted sockets", .blocking)
struct CurveTests {
    @Test func generatedKeysAreZ85AndThePublicKeyDerivesFromTheSecret() throws {
        #expect(ZMQLibrary.has("curve"))
        let keys = try CurveKeyPair.generate()
        for key in [keys.publicKey, keys.secretKey] {
            #expect(key.count == 40)
            #expect(key.unicodeScalars.allSatisfy { Z85.alphabet.contains($0) })
            #expect(CurveKeyPair.isValidKey(key))
        }
        #expect(keys.publicKey != keys.secretKey)
        #expect(try CurveKeyPair.publicKey(fromSecret: keys.secretKey) == keys.publicKey)
        #expect(try CurveKeyPair(publicKey: keys.publicKey, secretKey: keys.secretKey) == keys)
        #expect(try CurveKeyPair.generate() != keys)
        // Z85 round trip through libzmq's decoder and encoder.
        let bytes = try #require(Z85.decodeKey(keys.publicKey))
        #expect(bytes.count == 32)
        #expect(Z85.encodeKey(bytes) == keys.publicKey)
    }

    @Test func badKeysAreRejectedWithoutQuotingThem() throws {
        let a = try CurveKeyPair.generate(), b = try CurveKeyPair.generate()
        let mismatch = try #require(throws: CurveKeyError.self) { try CurveKeyPair(publicKey: b.publicKey, secretKey: a.secretKey) }
        #expect(mismatch.description == "the public key does not belong to the secret key")

        let short = String(a.secretKey.dropLast())
        let length = try #require(throws: CurveKeyError.self) { try CurveKeyPair.publicKey(fromSecret: short) }
        #expect(length.description == "the secret key has 39 characters instead of 40")

        var characters = Array(a.secretKey)
        characters[9] = "~"
        let badCharacter = String(characters)
        let alphabet = try #require(throws: CurveKeyError.self) { try CurveKeyPair(publicKey: a.publicKey, secretKey: badCharacter) }
        #expect(alphabet.description == "the secret key has a character outside the Z85 alphabet at position 10")

        // "#####" is 84 × (85⁴ + 85³ + 85² + 85 + 1) > 2³² − 1: Z85's alphabet, but no 4-byte value.
        let overflow = "#####" + String(repeating: "0", count: 35)
        #expect(!CurveKeyPair.isValidKey(overflow))
        #expect(Z85.decodeKey(overflow) == nil)
        #expect(throws: CurveKeyError.self) { try CurveKeyPair.publicKey(fromSecret: overflow) }

        for error in [mismatch, length, alphabet] {
            for secret in [a.secretKey, short, badCharacter] {
                #expect(!error.description.contains(secret.prefix(8)))
            }
        }
        let context = try Context()
        let server = try context.socket(.router)
        let refused = try #require(throws: CurveKeyError.self) { try server.makeCurveServer(secretKey: short) }
        #expect(!refused.description.contains(short.prefix(8)))
    }

    @Test func theSecretKeyNeverAppearsWhenAKeyPairIsPrinted() throws {
        let keys = try CurveKeyPair.generate()
        for text in renderings(keys) {
            #expect(text.contains(keys.publicKey), "\(text)")
            #expect(!text.contains(keys.secretKey), "the secret key was printed")
            #expect(text.contains("<redacted>"))
        }
        let inArray = renderings([keys])
        #expect(inArray.allSatisfy { !$0.contains(keys.secretKey) })
    }

    @Test func curveOptionsRoundTripAndErrorsNeverQuoteTheKey() throws {
        let keys = try CurveKeyPair.generate(), server = try CurveKeyPair.generate()
        let context = try Context()
        let router = try context.socket(.router)
        #expect(try router.get(.curveServer) == false)
        try router.set(.curveServer, true)
        #expect(try router.get(.curveServer))
        try router.set(.zapDomain, "trainer")
        #expect(try router.get(.zapDomain) == "trainer")

        let dealer = try context.socket(.dealer)
        try dealer.makeCurveClient(serverPublicKey: server.publicKey, keyPair: keys)
        #expect(try dealer.get(.curveServerKey) == server.publicKey)
        #expect(try dealer.get(.curvePublicKey) == keys.publicKey)
        #expect(try dealer.get(.curveSecretKey) == keys.secretKey)

        let short = String(keys.secretKey.prefix(39))
        let error = try #require(throws: ZMQError.self) { try dealer.set(.curveSecretKey, short) }
        #expect(error.code == EINVAL)
        #expect(error.description == "set ZMQ_CURVE_SECRETKEY on DEALER socket: Invalid argument")
    }

    @Test func routerAndDealerExchangeMessagesOverCurve() throws {
        let serverKeys = try CurveKeyPair.generate(), clientKeys = try CurveKeyPair.generate()
        let serverContext = try Context(), clientContext = try Context()
        let (router, endpoint) = try curveServer(serverContext, serverKeys)
        let dealer = try curveClient(clientContext, endpoint, serverKey: serverKeys.publicKey, keys: clientKeys)

        try dealer.send(["hello", Frame(floats: [1, 2, 3])])
        let request = try #require(try router.receiveMultipart(timeout: 2000))
        #expect(request.count == 3)
        #expect(request[1].string == "hello")
        #expect(request[2].floats == [1, 2, 3])
        // Without a ZAP handler libzmq admits any client key and names no user.
        #expect(request[1].metadata("User-Id") == nil || request[1].metadata("User-Id") == "")

        try router.send([Frame(request[0].bytes), "welcome"])
        #expect(strings(try dealer.receiveMultipart(timeout: 2000)) == ["welcome"])
    }

    /// The maximum message size of a CURVE socket counts the encrypted frame: a frame of N bytes needs a bound
    /// of N + `Socket.curveFrameOverhead`, and one byte less drops the sender's connection.
    @Test func maxMessageSizeCountsTheCurveOverhead() throws {
        let size = 437_544  // the MNIST MLP's gradient frame
        for (bound, delivered) in [(size + Socket.curveFrameOverhead, true), (size + Socket.curveFrameOverhead - 1, false)] {
            let serverKeys = try CurveKeyPair.generate()
            let serverContext = try Context(), clientContext = try Context()
            let router = try serverContext.socket(.router)
            try router.makeCurveServer(secretKey: serverKeys.secretKey)
            try router.set(.maxMessageSize, Int64(bound))
            try router.bind("tcp://127.0.0.1:*")
            let dealer = try curveClient(clientContext, try router.lastEndpoint, serverKey: serverKeys.publicKey,
                                         keys: try CurveKeyPair.generate())
            try dealer.send([Frame([UInt8](repeating: 7, count: size))])
            let frames = try router.receiveMultipart(timeout: delivered ? 2000 : 500)
            #expect(frames?.last?.count == (delivered ? size : nil), "a \(size)-byte frame with a bound of \(bound)")
        }
    }

    @Test func aClientWithTheWrongServerKeyNeverGetsThrough() throws {
        let serverKeys = try CurveKeyPair.generate(), impostor = try CurveKeyPair.generate()
        let serverContext = try Context(), clientContext = try Context()
        let (router, endpoint) = try curveServer(serverContext, serverKeys)

        let misled = try curveClient(clientContext, endpoint, serverKey: impostor.publicKey, keys: try CurveKeyPair.generate())
        try misled.send(["from the misled client"])
        #expect(try router.receiveMultipart(timeout: 1500) == nil)

        // The server itself works: a client with the right key gets through at once.
        let informed = try curveClient(clientContext, endpoint, serverKey: serverKeys.publicKey, keys: try CurveKeyPair.generate())
        try informed.send(["from the informed client"])
        let frames = try #require(try router.receiveMultipart(timeout: 2000))
        #expect(frames.last?.string == "from the informed client")
        #expect(try router.receiveMultipart(timeout: 300) == nil)
    }

    @Test func aPlainClientCannotTalkToACurveServer() throws {
        let serverKeys = try CurveKeyPair.generate()
        let serverContext = try Context(), clientContext = try Context()
        let (router, endpoint) = try curveServer(serverContext, serverKeys)
        let plain = try clientContext.socket(.dealer)
        try plain.connect(endpoint)
        try plain.send(["in the clear"])
        #expect(try router.receiveMultipart(timeout: 1000) == nil)
    }
}

@Suite("ZAP handler", .blocking)
struct ZAPHandlerTests {
    @Test func onlyAnAuthorisedKeyGetsThroughAndRefusalsAreLoggedWithThePublicKey() throws {
        let serverKeys = try CurveKeyPair.generate()
        let a = try CurveKeyPair.generate(), b = try CurveKeyPair.generate()
        let serverContext = try Context(), clientContext = try Context()
        let log = LogLines()
        let handler = try ZAPHandler(context: serverContext, authorizedKeys: try AuthorizedKeys(publicKeys: [a.publicKey]), log: log.sink)
        defer { handler.close() }
        let (router, endpoint) = try curveServer(serverContext, serverKeys)

        let clientA = try curveClient(clientContext, endpoint, serverKey: serverKeys.publicKey, keys: a)
        try clientA.send(["from A"])
        let fromA = try #require(try router.receiveMultipart(timeout: 2000))
        #expect(fromA.count == 2)
        #expect(fromA[1].string == "from A")
        #expect(fromA[1].metadata("User-Id") == a.publicKey)
        try router.send([Frame(fromA[0].bytes), "hello A"])
        #expect(strings(try clientA.receiveMultipart(timeout: 2000)) == ["hello A"])

        let clientB = try curveClient(clientContext, endpoint, serverKey: serverKeys.publicKey, keys: b)
        try clientB.send(["from B"])
        #expect(try router.receiveMultipart(timeout: 1500) == nil)

        #expect(eventually(within: 2000) { !log.containing(String(b.publicKey.prefix(8)) + "…").isEmpty })
        let refusal = try #require(log.containing(String(b.publicKey.prefix(8)) + "…").first)
        #expect(refusal.hasPrefix("ZAP: refused CURVE client at 127.0.0.1"), "\(refusal)")
        #expect(refusal.contains("not authorised"))
        let acceptance = try #require(log.containing(String(a.publicKey.prefix(8)) + "…").first)
        #expect(acceptance.hasPrefix("ZAP: accepted CURVE client at 127.0.0.1"), "\(acceptance)")
        #expect(handler.acceptedCount == 1)
        #expect(handler.refusedCount >= 1)
        for line in log.all {
            for secret in [serverKeys.secretKey, a.secretKey, b.secretKey] {
                #expect(!line.contains(secret), "a secret key was logged")
            }
            for key in [serverKeys.publicKey, a.publicKey, b.publicKey] {
                #expect(!line.contains(key), "a whole key was logged")
            }
        }
        // A still works while B keeps being refused.
        try clientA.send(["again from A"])
        #expect(strings(try router.receiveMultipart(timeout: 2000))?.last == "again from A")
    }

    @Test func libzmqDoesNotRetryARefusedClient() throws {
        let serverKeys = try CurveKeyPair.generate(), stranger = try CurveKeyPair.generate()
        let serverContext = try Context(), clientContext = try Context()
        let log = LogLines()
        let handler = try ZAPHandler(context: serverContext, authorizedKeys: try AuthorizedKeys(publicKeys: [String]()), log: log.sink)
        defer { handler.close() }
        let (router, endpoint) = try curveServer(serverContext, serverKeys)
        let client = try curveClient(clientContext, endpoint, serverKey: serverKeys.publicKey, keys: stranger)
        try client.set(.reconnectInterval, 50)
        try client.send(["let me in"])
        #expect(eventually(within: 2000) { handler.refusedCount == 1 })
        // Twenty reconnect intervals later: still one refusal, one log line and no message.
        #expect(try router.receiveMultipart(timeout: 1000) == nil)
        #expect(handler.refusedCount == 1)
        #expect(log.containing(String(stranger.publicKey.prefix(8)) + "…").count == 1, "\(log.all)")
        // Once libzmq has dropped the connection the DEALER has no peer: a send would block
        // (forever, without a send timeout) instead of failing.
        #expect(eventually(within: 2000) { (try? client.trySend(["after the refusal"])) == false })
    }

    @Test func withoutARunningHandlerLibzmqAdmitsAnyCurveClientAgain() throws {
        let serverKeys = try CurveKeyPair.generate(), stranger = try CurveKeyPair.generate()
        let serverContext = try Context(), clientContext = try Context()
        let handler = try ZAPHandler(context: serverContext, authorizedKeys: try AuthorizedKeys(publicKeys: [String]()), log: { _ in })
        let (router, endpoint) = try curveServer(serverContext, serverKeys)
        let refused = try curveClient(clientContext, endpoint, serverKey: serverKeys.publicKey, keys: stranger)
        try refused.send(["while the handler runs"])
        #expect(try router.receiveMultipart(timeout: 1000) == nil)
        #expect(handler.refusedCount == 1)

        // The hazard the documentation warns about: close the handler and CURVE authenticates nobody.
        handler.close()
        let admitted = try curveClient(clientContext, endpoint, serverKey: serverKeys.publicKey, keys: stranger)
        try admitted.send(["after the handler closed"])
        #expect(strings(try router.receiveMultipart(timeout: 2000))?.last == "after the handler closed")
    }

    @Test func nullConnectionsAreRefusedOnlyOnSocketsWithAZAPDomain() throws {
        let context = try Context()
        let log = LogLines()
        let handler = try ZAPHandler(context: context, authorizedKeys: try AuthorizedKeys(publicKeys: [try CurveKeyPair.generate().publicKey]),
                                     log: log.sink)
        defer { handler.close() }

        let guarded = try context.socket(.router)
        try guarded.set(.zapDomain, "trainer")
        try guarded.bind("tcp://127.0.0.1:*")
        let nullClient = try context.socket(.dealer)
        try nullClient.connect(try guarded.lastEndpoint)
        try nullClient.send(["no keys"])
        #expect(try guarded.receiveMultipart(timeout: 1000) == nil)
        #expect(eventually(within: 2000) { !log.containing("refused NULL client at 127.0.0.1 in domain \"trainer\"").isEmpty }, "\(log.all)")

        // libzmq asks no ZAP handler about a NULL socket without a domain: it stays open.
        let open = try context.socket(.router)
        try open.bind("tcp://127.0.0.1:*")
        let other = try context.socket(.dealer)
        try other.connect(try open.lastEndpoint)
        try other.send(["no keys either"])
        #expect(strings(try open.receiveMultipart(timeout: 2000))?.last == "no keys either")
    }

    @Test func oneHandlerPerContextAndCloseFreesTheEndpoint() throws {
        let context = try Context()
        let keys = try AuthorizedKeys(publicKeys: [try CurveKeyPair.generate().publicKey])
        let first = try ZAPHandler(context: context, authorizedKeys: keys, log: { _ in })
        #expect(first.isRunning)
        let error = try #require(throws: ZMQError.self) { try ZAPHandler(context: context, authorizedKeys: keys, log: { _ in }) }
        #expect(error.code == EADDRINUSE)
        #expect(error.description.contains("inproc://zeromq.zap.01"))
        #expect(error.description.contains("one handler per context"))

        // Another context has its own endpoint.
        let otherContext = try Context()
        let other = try ZAPHandler(context: otherContext, authorizedKeys: keys, log: { _ in })
        other.close()

        let (_, milliseconds) = timed { first.close() }
        #expect(milliseconds < 500, "close took \(milliseconds) ms")
        #expect(!first.isRunning)
        first.close()
        let second = try ZAPHandler(context: context, authorizedKeys: keys, log: { _ in })
        #expect(second.isRunning)
        second.close()
    }

    @Test func releasingTheHandlerStopsItsThread() throws {
        let context = try Context()
        let keys = try AuthorizedKeys(publicKeys: [String]())
        let (_, milliseconds) = try timed {
            _ = try ZAPHandler(context: context, authorizedKeys: keys, log: { _ in })
        }
        #expect(milliseconds < 500, "start and release took \(milliseconds) ms")
        // The released handler's thread unbound the endpoint, so a new handler can start.
        let next = try ZAPHandler(context: context, authorizedKeys: keys, log: { _ in })
        next.close()
    }

    @Test func closingTheContextEndsTheHandlerThread() throws {
        let context = try Context()
        let log = LogLines()
        let handler = try ZAPHandler(context: context, authorizedKeys: try AuthorizedKeys(publicKeys: [String]()), log: log.sink)
        context.close()
        #expect(eventually(within: 2000) { !handler.isRunning })
        let (_, milliseconds) = timed { handler.close() }
        #expect(milliseconds < 100)
        #expect(log.all.isEmpty, "\(log.all)")
        #expect(throws: ZMQError.self) { try ZAPHandler(context: context, authorizedKeys: try AuthorizedKeys(publicKeys: [String]()), log: log.sink) }
    }
}

@Suite("Authorised keys", .blocking)
struct AuthorizedKeysTests {
    @Test func commentsBlankLinesAndWhitespaceAreSkipped() throws {
        let a = try CurveKeyPair.generate(), b = try CurveKeyPair.generate(), c = try CurveKeyPair.generate()
        let text = """
            # workers of the MNIST run

            \(a.publicKey)   \t
              \(b.publicKey)
            # \(c.publicKey) (retired)
            \(c.publicKey)  # worker 3, inline comment\r
            \(a.publicKey)
            """
        let keys = try AuthorizedKeys(parsing: text, source: "workers.keys")
        #expect(keys.publicKeys == [a.publicKey, b.publicKey, c.publicKey])
        #expect(keys.count == 3)
        #expect(keys.contains(b.publicKey))
        #expect(!keys.contains(try CurveKeyPair.generate().publicKey))
        #expect(keys.description == "3 authorised public keys")
        #expect(try AuthorizedKeys(parsing: "# nobody\n\n", source: "empty.keys").isEmpty)
    }

    @Test func noKeyStartsWithHashSoHashLinesAreComments() throws {
        // "#" is Z85's largest digit (84): 84 × 85⁴ alone exceeds 2³² − 1.
        #expect(!CurveKeyPair.isValidKey("#" + String(repeating: "0", count: 39)))
        #expect(try AuthorizedKeys(parsing: "#" + String(repeating: "0", count: 39), source: "k").isEmpty)
        // The largest digit that can start a key is "%" (82); "$" (83) cannot either.
        #expect(!CurveKeyPair.isValidKey("$" + String(repeating: "0", count: 39)))
        let largest = "%" + String(repeating: "0", count: 39)
        #expect(CurveKeyPair.isValidKey(largest))
        #expect(try AuthorizedKeys(parsing: largest, source: "k").publicKeys == [largest])
    }

    @Test func aMalformedLineIsReportedWithFileAndLineNumberAndAShortExcerpt() throws {
        let good = try CurveKeyPair.generate()
        let bad = String(try CurveKeyPair.generate().secretKey.dropLast())
        let text = "# keys\n\(good.publicKey)\n\n\(bad)\n"
        let error = try #require(throws: AuthorizedKeysError.self) { try AuthorizedKeys(parsing: text, source: "/etc/trainer/workers.keys") }
        #expect(error.source == "/etc/trainer/workers.keys")
        #expect(error.line == 4)
        #expect(error.description == "/etc/trainer/workers.keys, line 4: not a Z85 public key: \"\(bad.prefix(8))…\" has 39 characters instead of 40")
        #expect(!error.description.contains(bad.prefix(9)))

        let trailing = try #require(throws: AuthorizedKeysError.self) {
            try AuthorizedKeys(parsing: "\(good.publicKey) worker-1\n", source: "w.keys")
        }
        #expect(trailing.line == 1)
        #expect(trailing.description.contains("a comment must start with #"))

        let control = try #require(throws: AuthorizedKeysError.self) { try AuthorizedKeys(parsing: "\u{1B}[31mred", source: "w.keys") }
        #expect(control.description == "w.keys, line 1: not a Z85 public key: \"?[31mred\" has 8 characters instead of 40")
    }

    @Test func keysAreReadFromAFileAndMissingFilesAreNamed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = try CurveKeyPair.generate().publicKey
        let path = directory.url.appendingPathComponent("workers.keys").path
        try "# one worker\n\(key)\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try AuthorizedKeys(contentsOfFile: path).publicKeys == [key])

        let missing = directory.url.appendingPathComponent("absent.keys").path
        let error = try #require(throws: AuthorizedKeysError.self) { try AuthorizedKeys(contentsOfFile: missing) }
        #expect(error.description == "\(missing): cannot read the authorised keys: No such file or directory")
        let folder = try #require(throws: AuthorizedKeysError.self) { try AuthorizedKeys(contentsOfFile: directory.url.path) }
        #expect(folder.description == "\(directory.url.path): not a regular file")
    }

    @Test func keysGivenDirectlyAreValidated() throws {
        let error = try #require(throws: CurveKeyError.self) { try AuthorizedKeys(publicKeys: [try CurveKeyPair.generate().publicKey, "short"]) }
        #expect(error.description == "authorised public key 2 has 5 characters instead of 40")
    }
}
