import Foundation

/// Splitting a command line into words by the quoting rules shells and systemd share: whitespace separates
/// words, single quotes keep everything, double quotes keep all but a backslash before " or \, and a backslash
/// outside quotes keeps the next character. Nothing is expanded.
enum ShellWords {
    struct UnterminatedQuote: Error, CustomStringConvertible {
        var line: String
        var description: String { "unterminated quote in: \(line)" }
    }

    static func split(_ line: String) throws -> [String] {
        var words: [String] = [], current = "", inWord = false
        var characters = line.makeIterator()
        while let character = characters.next() {
            switch character {
            case " ", "\t", "\n":
                if inWord { words.append(current); current = ""; inWord = false }
            case "'":
                inWord = true
                while true {
                    guard let next = characters.next() else { throw UnterminatedQuote(line: line) }
                    if next == "'" { break }
                    current.append(next)
                }
            case "\"":
                inWord = true
                while true {
                    guard let next = characters.next() else { throw UnterminatedQuote(line: line) }
                    if next == "\"" { break }
                    if next == "\\" {
                        guard let escaped = characters.next() else { throw UnterminatedQuote(line: line) }
                        if escaped != "\"" && escaped != "\\" { current.append("\\") }
                        current.append(escaped)
                    } else {
                        current.append(next)
                    }
                }
            case "\\":
                inWord = true
                if let next = characters.next(), next != "\n" { current.append(next) }
            default:
                inWord = true
                current.append(character)
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
