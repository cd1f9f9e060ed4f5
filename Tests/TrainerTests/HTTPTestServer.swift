import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 file server on 127.0.0.1 (an ephemeral port) for download tests: GET with
/// `Range: bytes=N-`, one connection at a time (`Connection: close`), and faults on request.
/// It serves until `stop()` (or deinit), and gives up by itself after `lifetime` seconds.
final class HTTPTestServer: @unchecked Sendable {
    /// How a file is served.
    enum Behaviour: Sendable {
        /// Whole and correct, honouring ranges.
        case normal
        /// Only its first `bytes` bytes, as if that were the whole file (a consistent Content-Length).
        case truncated(bytes: Int)
        /// Whole, with one byte in the middle changed.
        case corrupted
        /// The first request announces the full length, sends `bytes` bytes of the body and closes the
        /// connection; later requests are served normally.
        case cutOnceAfter(bytes: Int)
        /// Range headers are ignored: always 200 with the whole file.
        case ignoringRanges
        /// This HTTP status with an empty body.
        case status(Int)
        /// Announces the full length, sends `bytes` bytes of the body, then sends nothing for `seconds` before closing.
        case stallAfter(bytes: Int, seconds: TimeInterval)
    }

    /// A request the server read.
    struct Request: Sendable, Equatable {
        var path: String
        var range: String?
    }

    let port: UInt16
    private let listener: Int32
    private let files: [String: String]
    private let lock = NSLock()
    private var behaviours: [String: Behaviour] = [:]
    private var cutDone: Set<String> = []
    private var seen: [Request] = []
    private var stopping = false
    private var finished = false

    /// Serves `files` (URL path component → file on disk) at `baseURL`.
    init(files: [String: String], lifetime: TimeInterval = 300) throws {
        self.files = files
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw ServerError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else {
            close(descriptor)
            throw ServerError("bind/listen on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        listener = descriptor
        port = UInt16(bigEndian: address.sin_port)
        let deadline = Date().addingTimeInterval(lifetime)
        let thread = Thread { [self] in serve(until: deadline) }
        thread.name = "HTTPTestServer"
        thread.start()
    }

    deinit { stop() }

    /// The URL the files are under, ending in `/`.
    var baseURL: String { "http://127.0.0.1:\(port)/" }

    /// Serves `name` as `behaviour` from now on.
    func set(_ behaviour: Behaviour, for name: String) {
        lock.withLock { behaviours[name] = behaviour }
    }

    /// The requests read so far, in order.
    var requests: [Request] { lock.withLock { seen } }

    /// Stops accepting and waits (up to 5 s) for the serving thread to end.
    func stop() {
        lock.withLock { stopping = true }
        let deadline = Date().addingTimeInterval(5)
        while !lock.withLock({ finished }) && Date() < deadline { usleep(5_000) }
    }

    private func serve(until deadline: Date) {
        defer {
            close(listener)
            lock.withLock { finished = true }
        }
        while !lock.withLock({ stopping }) && Date() < deadline {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            handle(connection)
            close(connection)
        }
    }

    /// Reads one request and answers it.
    private func handle(_ connection: Int32) {
        guard let head = readHead(connection) else { return }
        let lines = head.components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count == 3, parts[0] == "GET" else { return respond(connection, status: 405, headers: [], body: []) }
        let name = String(parts[1].dropFirst())
        let range = lines.dropFirst().first { $0.lowercased().hasPrefix("range:") }
            .map { $0.dropFirst("range:".count).trimmingCharacters(in: .whitespaces) }
        let behaviour: Behaviour = lock.withLock {
            seen.append(Request(path: name, range: range))
            return behaviours[name] ?? .normal
        }
        guard let path = files[name], let size = fileSize(path) else { return respond(connection, status: 404, headers: [], body: []) }
        // Streamed from the file in chunks, so serving large data sets costs the test process no memory.
        var body = FileSlice(path: path, start: 0, count: size)
        var cutAfter: Int?
        var stall: TimeInterval = 0
        var honourRange = true
        switch behaviour {
        case .normal: break
        case let .truncated(count): body.count = min(count, size)
        case .corrupted: body.flipped = size / 2
        case let .cutOnceAfter(count):
            if lock.withLock({ cutDone.insert(name).inserted }) { cutAfter = count }
        case .ignoringRanges: honourRange = false
        case let .status(code): return respond(connection, status: code, headers: [], body: [])
        case let .stallAfter(count, seconds):
            cutAfter = count
            stall = seconds
        }
        if honourRange, let range, range.hasPrefix("bytes="), range.hasSuffix("-"),
           let start = Int(range.dropFirst(6).dropLast()) {
            let total = body.count
            guard start < total else {
                return respond(connection, status: 416, headers: ["Content-Range: bytes */\(total)"], body: [])
            }
            body.start = start
            body.count = total - start
            return respond(connection, status: 206, headers: ["Content-Range: bytes \(start)-\(total - 1)/\(total)"],
                           body: body, cutAfter: cutAfter, stall: stall)
        }
        respond(connection, status: 200, headers: [], body: body, cutAfter: cutAfter, stall: stall)
    }

    /// Part of a file to send: `count` bytes from `start`, with the byte at file offset `flipped` inverted.
    private struct FileSlice {
        var path: String
        var start: Int
        var count: Int
        var flipped: Int?
    }

    private func fileSize(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
    }

    /// The request line and headers, up to the blank line (nil if the client sent none within the timeout).
    private func readHead(_ connection: Int32) -> String? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.count < 65536 {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return nil }
            received += buffer[0..<count]
            if let text = String(bytes: received, encoding: .utf8), let end = text.range(of: "\r\n\r\n") {
                return String(text[..<end.lowerBound])
            }
        }
        return nil
    }

    private func respond(_ connection: Int32, status: Int, headers: [String], body: [UInt8]) {
        var sent = false
        respond(connection, status: status, headers: headers, length: body.count) { _ in
            defer { sent = true }
            return sent || body.isEmpty ? nil : body
        }
    }

    private func respond(_ connection: Int32, status: Int, headers: [String], body: FileSlice, cutAfter: Int? = nil,
                         stall: TimeInterval = 0) {
        guard let file = FileHandle(forReadingAtPath: body.path) else { return respond(connection, status: 500, headers: [], body: []) }
        defer { try? file.close() }
        let limit = cutAfter.map { min($0, body.count) } ?? body.count
        var offset = 0
        respond(connection, status: status, headers: headers, length: body.count, stall: stall) { _ in
            guard offset < limit else { return nil }
            let size = min(65_536, limit - offset)
            try? file.seek(toOffset: UInt64(body.start + offset))
            guard var chunk = try? file.read(upToCount: size).map({ [UInt8]($0) }), !chunk.isEmpty else { return nil }
            if let flipped = body.flipped, (body.start + offset..<body.start + offset + chunk.count).contains(flipped) {
                chunk[flipped - body.start - offset] ^= 0xff
            }
            offset += chunk.count
            return chunk
        }
    }

    /// Sends the head announcing `length` bytes, then the chunks `next` gives until nil, then stays quiet for `stall` seconds.
    private func respond(_ connection: Int32, status: Int, headers: [String], length: Int, stall: TimeInterval = 0,
                         next: (Int) -> [UInt8]?) {
        let reason = [200: "OK", 206: "Partial Content", 404: "Not Found", 405: "Method Not Allowed",
                      416: "Range Not Satisfiable", 500: "Internal Server Error", 503: "Service Unavailable"][status] ?? "Status"
        let head = (["HTTP/1.1 \(status) \(reason)", "Content-Length: \(length)", "Content-Type: application/octet-stream",
                     "Accept-Ranges: bytes", "Connection: close"] + headers).joined(separator: "\r\n") + "\r\n\r\n"
        guard send(connection, Array(head.utf8)) else { return }
        var sent = 0
        while let chunk = next(sent) {
            guard send(connection, chunk) else { return }
            sent += chunk.count
        }
        let quietUntil = Date().addingTimeInterval(min(stall, 10))
        while Date() < quietUntil && !lock.withLock({ stopping }) { usleep(10_000) }
    }

    /// Writes all of `bytes`; false if the client went away.
    private func send(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return false }
            offset += count
        }
        return true
    }
}

struct ServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
