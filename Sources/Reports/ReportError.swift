/// A metrics file that cannot be read, or a report or plot that cannot be written; the message names the file.
public struct ReportError: Error, CustomStringConvertible {
    /// What went wrong, with the file (and line) it concerns.
    public let description: String

    /// An error with `description` as its message.
    public init(_ description: String) { self.description = description }
}
