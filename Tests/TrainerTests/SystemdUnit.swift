import Foundation

/// A systemd unit file read strictly: `[Section]` headers, `Key=Value` lines, blank lines and comments, nothing else.
struct SystemdUnit {
    struct Malformed: Error, CustomStringConvertible {
        var file: String
        var line: Int
        var reason: String
        var description: String { "\(file):\(line): \(reason)" }
    }

    /// Each section's settings in file order.
    private(set) var sections: [String: [(key: String, value: String)]] = [:]

    init(contentsOf url: URL) throws {
        let file = DeployFiles.relativePath(url)
        var section: String?
        for (index, rawLine) in try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n").enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasSuffix("\\") { throw Malformed(file: file, line: index + 1, reason: "continuation lines are not used here") }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else { throw Malformed(file: file, line: index + 1, reason: "bad section header \(line)") }
                let name = String(line.dropFirst().dropLast())
                if sections[name] != nil { throw Malformed(file: file, line: index + 1, reason: "section [\(name)] appears twice") }
                sections[name] = []
                section = name
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw Malformed(file: file, line: index + 1, reason: "neither a section, a comment nor Key=Value: \(line)")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard key.range(of: "^[A-Za-z][A-Za-z0-9]*$", options: .regularExpression) != nil else {
                throw Malformed(file: file, line: index + 1, reason: "bad key \(key)")
            }
            guard let current = section else { throw Malformed(file: file, line: index + 1, reason: "\(key)= before any section") }
            sections[current, default: []].append((key, line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)))
        }
    }

    /// The values of `key` in `section`, in file order.
    func values(_ key: String, in section: String) -> [String] {
        (sections[section] ?? []).filter { $0.key == key }.map(\.value)
    }

    /// The one value of `key` in `section`, nil if it is absent or given more than once.
    func value(_ key: String, in section: String) -> String? {
        let all = values(key, in: section)
        return all.count == 1 ? all[0] : nil
    }
}

/// An EnvironmentFile as systemd reads it: NAME=value lines, # comments; no expansion.
func environmentFile(_ url: URL) throws -> [String: String] {
    var values: [String: String] = [:]
    for line in try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n") {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
        guard let equals = trimmed.firstIndex(of: "=") else {
            throw SystemdUnit.Malformed(file: DeployFiles.relativePath(url), line: 0, reason: "not NAME=value: \(trimmed)")
        }
        values[String(trimmed[..<equals])] = String(trimmed[trimmed.index(after: equals)...])
    }
    return values
}
