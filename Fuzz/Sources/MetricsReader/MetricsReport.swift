/// The fuzz target's way into `trainer report`'s reader, whose types are internal to it.
public enum MetricsReport {
    /// Reads the metrics file at `path` as `trainer report` does; returns its number of epochs.
    public static func read(_ path: String) throws -> Int { try MetricsHistory(contentsOf: path).epochs.count }
}
