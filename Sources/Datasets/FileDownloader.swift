import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What a download reports while it runs.
public enum DownloadEvent: Sendable, Equatable {
    /// The server answered; the file is `resumedFrom` bytes in already (0 for a fresh start), `expected` long if known.
    case started(resumedFrom: Int64, expected: Int64?)
    /// `received` bytes of the file are on disk.
    case progress(received: Int64, expected: Int64?)
    /// The whole file is on disk and its SHA-256 digest is being checked.
    case verifying
}

/// How a download ended.
public enum DownloadOutcome: Sendable, Equatable {
    /// The destination already held a file with the expected digest; nothing was fetched.
    case alreadyThere
    /// The file was fetched (`resumedFrom` bytes of it from an earlier, interrupted run), checked and moved into place.
    case downloaded(bytes: Int64, resumedFrom: Int64)
}

/// Fetches one file over HTTP(S) into `NAME.part`, resuming a partial file with a range request,
/// checks its SHA-256 digest over the whole file and only then renames it to `NAME`, durably.
public struct FileDownloader: Sendable {
    /// Seconds without any data before a transfer is given up (the partial file is kept).
    public var idleTimeout: TimeInterval

    /// A downloader that gives up after `idleTimeout` seconds without data.
    public init(idleTimeout: TimeInterval = 60) {
        self.idleTimeout = idleTimeout
    }

    /// The partial file `destination` is downloaded into before it is checked.
    public static func partialPath(for destination: String) -> String { destination + ".part" }

    /// Downloads `url` to `destination` unless a file with digest `sha256` is there already.
    /// Throws `DownloadError`: on a digest mismatch the partial file is deleted; on an interrupted
    /// transfer it is kept for the next call to resume.
    public func download(from url: URL, to destination: String, sha256: String,
                         events: @escaping @Sendable (DownloadEvent) -> Void = { _ in }) async throws -> DownloadOutcome {
        let expected = sha256.lowercased()
        if fileExists(destination), try SHA256.hex(ofFile: destination) == expected { return .alreadyThere }
        let part = Self.partialPath(for: destination)
        // Two rounds at most: a range the server refuses (416) is checked, then fetched again from the start.
        for _ in 0..<2 {
            let offset = Self.size(of: part)
            switch try await transfer(url, to: part, offset: offset, events: events) {
            case let .complete(bytes, resumedFrom):
                try verifyAndMove(part, to: destination, url: url, expected: expected, events: events)
                return .downloaded(bytes: bytes, resumedFrom: resumedFrom)
            case .rangeNotSatisfiable:
                // The partial file may be whole already (an earlier run stopped just before checking it).
                events(.verifying)
                if try SHA256.hex(ofFile: part) == expected {
                    try DurableOutputFile.moveDurably(part, to: destination)
                    return .downloaded(bytes: offset, resumedFrom: offset)
                }
                unlink(part)
            }
        }
        throw DownloadError.badResponse(url: url.absoluteString, reason: "the server refused the range request twice (HTTP 416)")
    }

    private func verifyAndMove(_ part: String, to destination: String, url: URL, expected: String,
                               events: @Sendable (DownloadEvent) -> Void) throws {
        events(.verifying)
        let actual = try SHA256.hex(ofFile: part)
        guard actual == expected else {
            unlink(part)
            throw DownloadError.checksumMismatch(file: destination, url: url.absoluteString, expected: expected, actual: actual)
        }
        try DurableOutputFile.moveDurably(part, to: destination)
    }

    /// The size of the file at `path`, 0 if there is none.
    static func size(of path: String) -> Int64 {
        var status = stat()
        return stat(path, &status) == 0 ? Int64(status.st_size) : 0
    }

    /// One HTTP request for `url`, writing the body into `part` (appended after `offset` bytes when the server honours the range).
    private func transfer(_ url: URL, to part: String, offset: Int64,
                          events: @escaping @Sendable (DownloadEvent) -> Void) async throws -> TransferResult {
        var request = URLRequest(url: url)
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = idleTimeout
        configuration.timeoutIntervalForResource = 24 * 3600
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        let transfer = Transfer(url: url.absoluteString, part: part, offset: offset, idleTimeout: idleTimeout, events: events)
        let session = URLSession(configuration: configuration, delegate: transfer, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        return try await withCheckedThrowingContinuation { continuation in
            transfer.start(session.dataTask(with: request), continuation: continuation)
        }
    }
}

/// What one request achieved.
enum TransferResult: Sendable {
    /// The body arrived whole: `bytes` in the file, the first `resumedFrom` of them from before.
    case complete(bytes: Int64, resumedFrom: Int64)
    /// The server answered 416 to the range request.
    case rangeNotSatisfiable
}

/// The delegate of one request: writes the body as it arrives and resumes the caller when it ends.
/// Its state is touched by URLSession's delegate queue and guarded by `lock`.
private final class Transfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let url: String, part: String, offset: Int64, idleTimeout: TimeInterval
    private let events: @Sendable (DownloadEvent) -> Void
    private let lock = NSLock()
    private var continuation: CheckedContinuation<TransferResult, Error>?
    private var output: DurableOutputFile?
    private var received: Int64 = 0
    private var resumedFrom: Int64 = 0
    private var expected: Int64?
    private var failure: Error?
    private var refusedRange = false
    private var lastReport = Date.distantPast

    init(url: String, part: String, offset: Int64, idleTimeout: TimeInterval, events: @escaping @Sendable (DownloadEvent) -> Void) {
        self.url = url
        self.part = part
        self.offset = offset
        self.idleTimeout = idleTimeout
        self.events = events
    }

    func start(_ task: URLSessionDataTask, continuation: CheckedContinuation<TransferResult, Error>) {
        lock.withLock { self.continuation = continuation }
        task.resume()
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let started: DownloadEvent? = lock.withLock {
            do {
                try accept(response)
            } catch {
                failure = error
                return nil
            }
            return refusedRange ? nil : .started(resumedFrom: resumedFrom, expected: expected)
        }
        if let started { events(started) }
        completionHandler(started != nil ? .allow : .cancel)
    }

    /// Checks the status and opens the partial file for appending (206) or afresh (200). Called under `lock`.
    private func accept(_ response: URLResponse) throws {
        guard let http = response as? HTTPURLResponse else {
            throw DownloadError.badResponse(url: url, reason: "not an HTTP response")
        }
        let length = http.expectedContentLength >= 0 ? http.expectedContentLength : nil
        switch http.statusCode {
        case 206 where offset > 0:
            let range = header("Content-Range", in: http) ?? ""
            guard let start = Self.rangeStart(range), start == offset else {
                throw DownloadError.badResponse(url: url, reason: "asked for bytes \(offset)- but got Content-Range `\(range)`")
            }
            output = try DurableOutputFile(path: part, append: true)
            resumedFrom = offset
            received = offset
            expected = Self.rangeTotal(range) ?? length.map { $0 + offset }
        case 200:
            output = try DurableOutputFile(path: part, append: false)
            resumedFrom = 0
            received = 0
            expected = length
        case 416 where offset > 0:
            refusedRange = true
        default:
            throw DownloadError.httpStatus(code: http.statusCode, url: url)
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let report: DownloadEvent? = lock.withLock {
            guard failure == nil, let output else { return nil }
            do {
                try output.write(data)
            } catch {
                failure = error
                dataTask.cancel()
                return nil
            }
            received += Int64(data.count)
            let now = Date()
            guard now.timeIntervalSince(lastReport) >= 0.1 else { return nil }
            lastReport = now
            return .progress(received: received, expected: expected)
        }
        if let report { events(report) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        let (continuation, result, last) = lock.withLock {
            let continuation = self.continuation
            self.continuation = nil
            return (continuation, finish(error), DownloadEvent.progress(received: received, expected: expected))
        }
        if case .success(.complete) = result { events(last) }
        continuation?.resume(with: result)
    }

    /// The result once the request has ended with `error` (nil: the body ended normally). Called under `lock`.
    private func finish(_ error: Error?) -> Result<TransferResult, Error> {
        var closeFailure: Error?
        do { try output?.close() } catch { closeFailure = error }
        if let failure { return .failure(failure) }
        if refusedRange { return .success(.rangeNotSatisfiable) }
        if let closeFailure { return .failure(closeFailure) }
        guard output != nil else {
            return .failure(DownloadError.connectionFailed(url: url, reason: error.map(reason) ?? "no answer"))
        }
        if let error {
            return .failure(DownloadError.interrupted(url: url, partialFile: part, bytes: received, reason: reason(error)))
        }
        if let expected, received < expected {
            return .failure(DownloadError.interrupted(url: url, partialFile: part, bytes: received,
                                                      reason: "the connection closed at \(received) of \(expected) bytes"))
        }
        return .success(.complete(bytes: received, resumedFrom: resumedFrom))
    }

    /// A short human reason for a URLSession error.
    private func reason(_ error: Error) -> String {
        guard let urlError = error as? URLError else { return "\(error)" }
        switch urlError.code {
        case .cannotConnectToHost: return "connection refused"
        case .cannotFindHost, .dnsLookupFailed: return "unknown host"
        case .timedOut: return "no data for \(Int(idleTimeout)) s (timed out)"
        case .networkConnectionLost: return "the connection was cut"
        case .notConnectedToInternet: return "no network"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
             .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
            return "TLS handshake failed (\(urlError.code.rawValue))"
        default: return "\(urlError.localizedDescription) (URL error \(urlError.code.rawValue))"
        }
    }

    private func header(_ name: String, in response: HTTPURLResponse) -> String? {
        for (key, value) in response.allHeaderFields {
            if let key = key as? String, key.caseInsensitiveCompare(name) == .orderedSame { return value as? String }
        }
        return nil
    }

    /// N in `bytes N-M/T`.
    static func rangeStart(_ contentRange: String) -> Int64? {
        guard contentRange.hasPrefix("bytes ") else { return nil }
        return Int64(contentRange.dropFirst(6).prefix { $0 != "-" })
    }

    /// T in `bytes N-M/T` (nil for `*`).
    static func rangeTotal(_ contentRange: String) -> Int64? {
        guard let slash = contentRange.lastIndex(of: "/") else { return nil }
        return Int64(contentRange[contentRange.index(after: slash)...])
    }
}
