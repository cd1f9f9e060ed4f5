import Foundation

/// Expected SHA-256 digests by file name, as `sha256sum` prints them: `DIGEST  NAME` or `DIGEST *NAME`.
public struct ChecksumList: Sendable, Equatable {
    /// Lowercase hexadecimal digests keyed by file name (the last path component of each listed name).
    public private(set) var digests: [String: String]

    /// A list holding `digests` (file name → 64 hexadecimal digits).
    public init(_ digests: [String: String]) {
        self.digests = digests.mapValues { $0.lowercased() }
    }

    /// Parses `sha256sum` output; `source` names the file in errors, which give the 1-based line number.
    /// Blank lines are skipped; a name with folders (`mnist/t10k-labels-idx1-ubyte.gz`) is keyed by its last component.
    public init(parsing text: String, source: String) throws {
        var digests: [String: String] = [:]
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let lineNumber = index + 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            func failure(_ why: String) -> DatasetError {
                DatasetError(path: "\(source):\(lineNumber)", reason: "\(why); expected `SHA256  FILENAME` as sha256sum prints it")
            }
            let digest = line.prefix(while: { !$0.isWhitespace })
            guard digest.count == 64, digest.allSatisfy(\.isHexDigit) else {
                throw failure("`\(digest.prefix(80))` is not a SHA-256 digest (64 hexadecimal digits)")
            }
            var rest = line.dropFirst(64)
            guard let separator = rest.first, separator == " " || separator == "\t" else {
                throw failure("no file name after the digest")
            }
            rest = rest.dropFirst()
            // sha256sum writes two spaces (text mode) or a space and `*` (binary mode).
            if let mode = rest.first, mode == " " || mode == "*" { rest = rest.dropFirst() }
            let name = String(rest).trimmingCharacters(in: .whitespaces)
            let fileName = (name as NSString).lastPathComponent
            guard !fileName.isEmpty, fileName != ".", fileName != ".." else { throw failure("no file name after the digest") }
            let value = digest.lowercased()
            if let earlier = digests[fileName], earlier != value {
                throw failure("a second, different digest for \(fileName)")
            }
            digests[fileName] = value
        }
        self.digests = digests
    }

    /// Reads and parses the checksum file at `path`.
    public init(contentsOf path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DatasetError(path: path, reason: "cannot read the checksum file: \((error as NSError).localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DatasetError(path: path, reason: "not UTF-8 text (expected lines `SHA256  FILENAME` as sha256sum prints them)")
        }
        try self.init(parsing: text, source: path)
    }

    /// The expected digest of `fileName`, if listed.
    public subscript(fileName: String) -> String? { digests[fileName] }
}
