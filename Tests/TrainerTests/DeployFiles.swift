import Foundation

/// Reading the deployment files under Deploy/ as the tools that run them would: their files, their
/// command lines split into words, and the placeholders each tool fills in.
enum DeployFiles {
    /// The repository's top folder, found from this source file's place in it.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The Deploy/ folder.
    static var folder: URL { root.appendingPathComponent("Deploy") }

    /// The files under Deploy/ (recursively) for which `include` holds, sorted by path.
    static func files(where include: (URL) -> Bool) -> [URL] {
        guard let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else {
            return []
        }
        var found: [URL] = []
        for case let url as URL in enumerator where (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
            if include(url) { found.append(url) }
        }
        return found.sorted { $0.path < $1.path }
    }

    /// The path of `url` inside the repository, for messages.
    static func relativePath(_ url: URL) -> String {
        let path = url.standardizedFileURL.path, top = root.standardizedFileURL.path + "/"
        return path.hasPrefix(top) ? String(path.dropFirst(top.count)) : path
    }

    /// The argument lists `trainer` receives from one command line's words: one for `trainer …`, two for
    /// `start-server STATE …` (a new run with --state-file, a resumed one with --resume); nil for other commands.
    /// Leading `env` and NAME=value words are skipped.
    static func trainerArguments(_ words: [String]) -> [[String]]? {
        var rest = words[...]
        if let first = rest.first, first == "env" || first.hasSuffix("/env") { rest = rest.dropFirst() }
        while let first = rest.first, first.range(of: #"^[A-Za-z_][A-Za-z0-9_]*="#, options: .regularExpression) != nil {
            rest = rest.dropFirst()
        }
        guard let command = rest.first else { return nil }
        let name = (command as NSString).lastPathComponent
        let arguments = Array(rest.dropFirst())
        switch name {
        case "trainer":
            return [arguments]
        case "start-server", "start-server.sh":
            guard let state = arguments.first else { return [["server", "--state-file"]] }
            let flags = Array(arguments.dropFirst())
            return [["server", "--state-file", state] + flags, ["server", "--resume", state] + flags]
        default:
            return nil
        }
    }

    /// `text` with every match of `pattern` replaced by `transform` of its capture groups (group 0 is the match).
    static func substitute(_ pattern: String, in text: String, _ transform: ([String?]) throws -> String) throws -> String {
        let expression = try NSRegularExpression(pattern: pattern)
        let source = text as NSString
        var result = "", position = 0
        for match in expression.matches(in: text, range: NSRange(location: 0, length: source.length)) {
            result += source.substring(with: NSRange(location: position, length: match.range.location - position))
            let groups = (0..<match.numberOfRanges).map { index -> String? in
                let range = match.range(at: index)
                return range.location == NSNotFound ? nil : source.substring(with: range)
            }
            result += try transform(groups)
            position = match.range.location + match.range.length
        }
        return result + source.substring(from: position)
    }

    /// Docker Compose interpolation: `${NAME:-default}` and `${NAME-default}` become NAME's value in `environment`
    /// (`:-`: when not empty), else the default; `$$` a dollar. A placeholder without a default that `environment`
    /// lacks is an error, since the test cannot know its value.
    static func expandCompose(_ text: String, environment: [String: String] = [:]) throws -> String {
        let expanded = try substitute(#"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}"#, in: text) { groups in
            if let value = environment[groups[1] ?? ""], !(value.isEmpty && groups[2]?.hasPrefix(":") == true) { return value }
            guard let fallback = groups[3] else { throw PlaceholderError(text: text, name: groups[1] ?? "", tool: "compose") }
            return fallback
        }
        return expanded.replacingOccurrences(of: "$$", with: "$")
    }

    /// Kubernetes' expansion of `$(NAME)` in a container's command and args from its environment; `$$(` stays literal.
    static func expandKubernetes(_ text: String, environment: [String: String]) throws -> String {
        try substitute(#"\$\(([A-Za-z_][A-Za-z0-9_]*)\)"#, in: text) { groups in
            guard let value = environment[groups[1] ?? ""] else { throw PlaceholderError(text: text, name: groups[1] ?? "", tool: "kubernetes") }
            return value
        }
    }

    /// A systemd command line split into words, with `${NAME}` from `environment` and the specifiers %i, %I
    /// (the instance), %S (/var/lib) and %% expanded. A `$NAME` without braces is refused: systemd would split it.
    static func systemdWords(_ line: String, environment: [String: String], instance: String) throws -> [String] {
        try ShellWords.split(line).map { word in
            let specified = try substitute("%(.)", in: word) { groups in
                switch groups[1] {
                case "i", "I": return instance
                case "S": return "/var/lib"
                case "%": return "%"
                default: throw PlaceholderError(text: line, name: "%" + (groups[1] ?? ""), tool: "systemd")
                }
            }
            let expanded = try substitute(#"\$\{([A-Za-z_][A-Za-z0-9_]*)\}"#, in: specified) { groups in
                guard let value = environment[groups[1] ?? ""] else { throw PlaceholderError(text: line, name: groups[1] ?? "", tool: "systemd") }
                return value
            }
            if expanded.contains("$") { throw PlaceholderError(text: line, name: expanded, tool: "systemd (use ${NAME})") }
            return expanded
        }
    }
}

/// A placeholder the test has no value for.
struct PlaceholderError: Error, CustomStringConvertible {
    var text: String
    var name: String
    var tool: String
    var description: String { "\(tool): no value for \(name) in \(text)" }
}
