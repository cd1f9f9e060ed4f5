#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CURVE public keys a `ZAPHandler` admits, for example read from an authorised-keys file.
///
/// File format: one 40-character Z85 public key per line (as `trainer keygen` writes to its
/// `.public` file), optionally followed by whitespace and a `#` comment. Blank lines and lines
/// starting with `#` are ignored, and whitespace around a line is trimmed. `#` is a Z85 digit, but
/// the largest one (84), and no 5-digit group starting with it fits in 32 bits: a valid key never
/// starts with `#`, so a line starting with it is always a comment.
public struct AuthorizedKeys: Sendable, Equatable, CustomStringConvertible {
    /// The Z85 public keys in the order given, without repeats.
    public let publicKeys: [String]
    // The same keys decoded to 32 bytes each.
    let decodedKeys: Set<[UInt8]>

    /// The keys `publicKeys` (Z85 text); throws `CurveKeyError` naming the first bad one's position in the list.
    public init(publicKeys: some Sequence<String>) throws {
        var keys: [String] = [], decoded: Set<[UInt8]> = []
        for (index, key) in publicKeys.enumerated() {
            guard let bytes = Z85.decodeKey(key) else {
                let problem = Z85.keyProblem(key)?.explanation ?? "is not valid Z85"
                throw CurveKeyError("authorised public key \(index + 1) \(problem)")
            }
            if decoded.insert(bytes).inserted { keys.append(key) }
        }
        self.publicKeys = keys
        self.decodedKeys = decoded
    }

    /// The keys in `text`, in the file format above; errors name `source` (a file name) and the line.
    public init(parsing text: String, source: String) throws {
        var keys: [String] = []
        var lineNumber = 0
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            let content = Self.trimmed(line)
            if content.isEmpty || content.hasPrefix("#") { continue }
            let firstField = content.prefix { !$0.isWhitespace }
            let rest = Self.trimmed(content[firstField.endIndex...])
            if Z85.keyProblem(firstField) == nil, rest.isEmpty || rest.hasPrefix("#") {
                keys.append(String(firstField))
                continue
            }
            let reason: String
            if let problem = Z85.keyProblem(firstField) {
                reason = "not a Z85 public key: \(Self.excerpt(firstField)) \(problem.explanation)"
            } else {
                reason = "unexpected text after the public key (a comment must start with #)"
            }
            throw AuthorizedKeysError(source: source, line: lineNumber, reason: reason)
        }
        try self.init(publicKeys: keys)
    }

    /// The keys in the file at `path`; throws `AuthorizedKeysError` naming the file (and line).
    public init(contentsOfFile path: String) throws {
        try self.init(parsing: try Self.contents(ofFile: path), source: path)
    }

    /// The number of keys.
    public var count: Int { publicKeys.count }

    /// Whether no key is listed (a `ZAPHandler` with no keys refuses every client).
    public var isEmpty: Bool { publicKeys.isEmpty }

    /// Whether the Z85 public key `publicKey` is listed.
    public func contains(_ publicKey: String) -> Bool {
        Z85.decodeKey(publicKey).map(decodedKeys.contains) ?? false
    }

    /// Whether the 32-byte public key `bytes` is listed.
    func contains(bytes: [UInt8]) -> Bool {
        decodedKeys.contains(bytes)
    }

    /// For example "2 authorised public keys".
    public var description: String { "\(count) authorised public key\(count == 1 ? "" : "s")" }

    public static func == (lhs: AuthorizedKeys, rhs: AuthorizedKeys) -> Bool {
        lhs.publicKeys == rhs.publicKeys
    }

    // Largest file read: far more keys than any cluster has.
    private static let maxFileBytes = 1 << 20

    private static func trimmed(_ text: Substring) -> Substring {
        let start = text.firstIndex { !$0.isWhitespace } ?? text.endIndex
        let end = text.lastIndex { !$0.isWhitespace }.map(text.index(after:)) ?? start
        return text[start..<max(start, end)]
    }

    /// At most the first 8 characters of a bad line, quoted, with control characters shown as "?".
    private static func excerpt(_ text: Substring) -> String {
        let shown = text.prefix(8).map { $0.isASCII && ($0.isLetter || $0.isNumber || $0.isPunctuation || $0.isSymbol) ? String($0) : "?" }
        return "\"\(shown.joined())\(text.count > 8 ? "…" : "")\""
    }

    private static func contents(ofFile path: String) throws -> String {
        func failure(_ code: Int32) -> AuthorizedKeysError {
            AuthorizedKeysError(source: path, line: nil, reason: "cannot read the authorised keys: \(String(cString: strerror(code)))")
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(errno) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw failure(errno) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw AuthorizedKeysError(source: path, line: nil, reason: "not a regular file")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(errno)
            }
            bytes.append(contentsOf: chunk.prefix(count))
            guard bytes.count <= maxFileBytes else {
                throw AuthorizedKeysError(source: path, line: nil, reason: "larger than \(maxFileBytes) bytes")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// An authorised-keys file that cannot be read or has a line that is not a public key.
public struct AuthorizedKeysError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file (or other source) of the keys.
    public let source: String
    /// The 1-based line at fault, or nil for the file as a whole.
    public let line: Int?
    /// What is wrong, quoting at most the first 8 characters of the line.
    public let reason: String

    /// An error about `line` of `source`.
    public init(source: String, line: Int?, reason: String) {
        self.source = source
        self.line = line
        self.reason = reason
    }

    /// For example "workers.keys, line 3: not a Z85 public key: \"abc\" has 3 characters instead of 40".
    public var description: String {
        if let line { "\(source), line \(line): \(reason)" } else { "\(source): \(reason)" }
    }
}
