/// A data file that is missing or malformed, naming the file and what is wrong.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    /// The file (or folder) concerned.
    public var path: String
    /// What is wrong with it.
    public var reason: String

    /// Creates an error for a file.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
