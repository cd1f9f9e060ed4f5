/// Why a download failed, naming the URL or file at fault.
public enum DownloadError: Error, CustomStringConvertible, Equatable {
    /// The server answered with an error status.
    case httpStatus(code: Int, url: String)
    /// No connection could be made (refused, unknown host, TLS failure…).
    case connectionFailed(url: String, reason: String)
    /// The transfer stopped part-way; `partialFile` holds the bytes received so far for the next run to resume.
    case interrupted(url: String, partialFile: String, bytes: Int64, reason: String)
    /// The file arrived whole but its SHA-256 digest is not the expected one; it was deleted.
    case checksumMismatch(file: String, url: String, expected: String, actual: String)
    /// The server's answer to a range request cannot be used.
    case badResponse(url: String, reason: String)

    public var description: String {
        switch self {
        case let .httpStatus(code, url):
            "HTTP \(code) from \(url)"
        case let .connectionFailed(url, reason):
            "cannot connect to \(url): \(reason)"
        case let .interrupted(url, partialFile, bytes, reason):
            "download of \(url) interrupted after \(bytes) bytes (\(reason)); they are kept in \(partialFile): run the same command again to resume"
        case let .checksumMismatch(file, url, expected, actual):
            "checksum mismatch for \(file) from \(url): expected SHA-256 \(expected), got \(actual); the file was deleted"
        case let .badResponse(url, reason):
            "unusable answer from \(url): \(reason)"
        }
    }
}
