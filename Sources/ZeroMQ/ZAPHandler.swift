import CZeroMQ
import Foundation
import Transport
import Synchronization

/// A ZAP 1.0 handler (ZeroMQ RFC 27) that admits CURVE clients whose public key is authorised and
/// refuses every other connection it is asked about.
///
/// CURVE on its own admits any client key pair; with this handler running on the server socket's
/// context, a handshake completes only for a listed client public key. The handler binds a REP
/// socket to `inproc://zeromq.zap.01` of its `Context` (one handler per context: a second fails
/// with `EADDRINUSE`) and answers on its own dedicated thread, never on Swift's cooperative pool.
///
/// Which connections it sees is libzmq's choice (4.3, without the DRAFT `ZMQ_ZAP_ENFORCE_DOMAIN`):
/// every connection to a CURVE (or PLAIN) server socket, and NULL-mechanism connections only to
/// sockets with a non-empty `.zapDomain`. Those NULL and PLAIN connections are refused (400); a
/// NULL socket without a ZAP domain never asks, so it stays open to anyone. Keep the handler alive
/// as long as its CURVE server sockets: once it is closed, libzmq finds no handler and lets every
/// CURVE client through again (encryption without authentication).
///
/// `log` hears, on the handler's thread, one line per acceptance and per refusal naming the peer's
/// address and, for CURVE, its public key as Z85 (never a secret). The accepted client's Z85 public
/// key becomes the connection's "User-Id" (see `ReceivedFrame.metadata(_:)`).
///
/// A refused client gets no error from its sends or receives: libzmq 4.3 ends its connection as a
/// protocol error (a socket monitor sees `ZMQ_EVENT_HANDSHAKE_FAILED_AUTH` with 400) and never
/// reconnects it, so what it sent is dropped and, once the connection is gone, a send blocks
/// (forever without `.sendTimeout`). A client should bound its sends and its wait for a reply.
public final class ZAPHandler: Sendable {
    /// The endpoint libzmq sends ZAP requests to, inside each context.
    public static let endpoint = "inproc://zeromq.zap.01"

    /// The keys admitted.
    public let authorizedKeys: AuthorizedKeys
    private let thread: ServiceThread
    private let counts: Counts

    /// Starts a handler on `context` admitting `authorizedKeys`; returns once it is bound, or throws
    /// (`EADDRINUSE` if a handler already runs on `context`, `ETERM` if the context is closed).
    public init(context: Context, authorizedKeys: AuthorizedKeys, log: @escaping @Sendable (String) -> Void) throws {
        let counts = Counts()
        self.authorizedKeys = authorizedKeys
        self.counts = counts
        thread = try ServiceThread.start(name: "ZAP handler") { thread in
            guard let socket = Self.open(context, thread: thread) else { return }
            let session = Session(keys: authorizedKeys, thread: thread, counts: counts, log: log)
            session.serve(socket)
            // Unbinding at once (closing alone unregisters the endpoint later) frees the endpoint for a new handler.
            try? socket.unbind(Self.endpoint)
            socket.close()
        }
    }

    deinit {
        thread.stop()
    }

    /// Stops the handler: its thread closes the socket and ends; returns when it has (within 10 s). Idempotent.
    public func close() {
        thread.stop()
    }

    /// Whether the handler's thread is still answering.
    public var isRunning: Bool { !thread.isFinished }

    /// The requests answered with 200 so far.
    public var acceptedCount: Int { counts.accepted.load(ordering: .relaxed) }

    /// The requests answered with a refusal so far.
    public var refusedCount: Int { counts.refused.load(ordering: .relaxed) }

    /// Makes and binds the REP socket on the handler's thread; nil (with the error passed on) if that fails.
    private static func open(_ context: Context, thread: ServiceThread) -> Socket? {
        do {
            let socket = try context.socket(.rep)
            do {
                // A reply never waits long: the requester is libzmq's own session, in this process.
                try socket.set(.sendTimeout, 1000)
                try socket.bind(endpoint)
            } catch let error as ZMQError where error.code == EADDRINUSE {
                socket.close()
                throw ZMQError(code: EADDRINUSE, operation: "start ZAP handler: \(endpoint) is taken (one handler per context)")
            } catch {
                socket.close()
                throw error
            }
            thread.started(nil)
            return socket
        } catch {
            thread.started(error as? ZMQError ?? ZMQError(code: EFAULT, operation: "start ZAP handler: \(error)"))
            return nil
        }
    }
}

/// The requests answered so far, counted by the handler's thread.
private final class Counts: Sendable {
    let accepted = Atomic<Int>(0)
    let refused = Atomic<Int>(0)
}

/// The handler thread's loop and bookkeeping.
private struct Session {
    let keys: AuthorizedKeys
    let thread: ServiceThread
    let counts: Counts
    let log: @Sendable (String) -> Void

    // A CURVE request has 7 frames, a PLAIN one 8; anything far bigger is not from libzmq.
    private static let requestLimits = ReceiveLimits(maxFrames: 16, maxBytes: 16384)

    /// Answers requests until stopped or the context is closed, polling at most 1 s at a time.
    func serve(_ socket: Socket) {
        let poller = Poller()
        let socketIndex = poller.register(socket)
        let wakeIndex = poller.register(fileDescriptor: thread.wakePipe.readDescriptor)
        while !thread.isStopping {
            let ready: PollResult
            do {
                ready = try poller.poll(timeout: 1000)
            } catch {
                report(error)
                return
            }
            if ready[wakeIndex].contains(.readable) { thread.wakePipe.drain() }
            if thread.isStopping { return }
            if ready[socketIndex].contains(.readable), !answerWaitingRequests(socket) { return }
        }
    }

    /// Answers every request waiting now; false if the socket can no longer be used.
    private func answerWaitingRequests(_ socket: Socket) -> Bool {
        while true {
            var reply: [Frame]
            do {
                guard let request = try socket.receiveMultipart(timeout: 0, limits: Self.requestLimits) else { return true }
                reply = answer(request)
            } catch let error as ZMQError where error.code == EMSGSIZE {
                // The message was read and discarded; REP still owes it a reply.
                counts.refused.add(1, ordering: .relaxed)
                log("ZAP: refused an oversized request (\(error.message))")
                reply = Self.reply(requestID: [], status: "500", text: "malformed request")
            } catch {
                report(error)
                return false
            }
            do {
                try socket.send(reply)
            } catch {
                report(error)
                return false
            }
        }
    }

    /// The reply to one request.
    private func answer(_ request: [ReceivedFrame]) -> [Frame] {
        guard request.count >= 6, request[0].string == "1.0" else {
            counts.refused.add(1, ordering: .relaxed)
            log("ZAP: refused a malformed request (\(request.count) frames)")
            return Self.reply(requestID: request.count > 1 ? request[1].bytes : [], status: "500", text: "malformed request")
        }
        let requestID = request[1].bytes
        let domain = Self.printable(request[2].string)
        let address = Self.printable(request[3].string)
        let mechanism = Self.printable(request[5].string)
        let credentials = request.dropFirst(6)
        let inDomain = domain.isEmpty ? "" : " in domain \"\(domain)\""
        guard mechanism == "CURVE" else {
            refuse("ZAP: refused \(mechanism) client at \(address)\(inDomain): only CURVE clients with an authorised public key are admitted")
            return Self.reply(requestID: requestID, status: "400", text: "mechanism \(mechanism) not allowed")
        }
        guard credentials.count == 1, let key = credentials.first?.bytes, let publicKey = Z85.encodeKey(key) else {
            refuse("ZAP: refused CURVE client at \(address)\(inDomain): malformed credentials")
            return Self.reply(requestID: requestID, status: "400", text: "malformed credentials")
        }
        // Logs name a key by its first 8 characters only: enough to find it in a keys file, and no key is
        // ever written out whole.
        let shown = String(publicKey.prefix(8)) + "…"
        guard keys.contains(bytes: key) else {
            refuse("ZAP: refused CURVE client at \(address)\(inDomain): public key \(shown) is not authorised")
            return Self.reply(requestID: requestID, status: "400", text: "public key not authorised")
        }
        counts.accepted.add(1, ordering: .relaxed)
        log("ZAP: accepted CURVE client at \(address)\(inDomain) with public key \(shown)")
        return Self.reply(requestID: requestID, status: "200", text: "OK", userID: publicKey)
    }

    private func refuse(_ line: String) {
        counts.refused.add(1, ordering: .relaxed)
        log(line)
    }

    private func report(_ error: any Error) {
        if let error = error as? ZMQError, error.isContextTerminated { return }
        log("ZAP: handler stopped: \(error)")
    }

    private static func reply(requestID: [UInt8], status: String, text: String, userID: String = "") -> [Frame] {
        ["1.0", Frame(requestID), Frame(status), Frame(text), Frame(userID), Frame([])]
    }

    /// At most 64 characters of `text`, with anything but printable ASCII shown as "?".
    private static func printable(_ text: String) -> String {
        String(text.unicodeScalars.prefix(64).map { (0x20..<0x7F).contains($0.value) ? Character($0) : "?" })
    }
}
