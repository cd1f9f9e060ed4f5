import Foundation

/// A metrics file (JSON lines, as `--metrics` writes them) read back: the settings, every epoch, and
/// how each run in it ended. A resumed server appends a new `start` to the same file.
public struct MetricsHistory {
    /// One worker's figures in one epoch.
    struct Rank {
        var rank: Int
        var steps: Int?
        var samples: Int?
        /// The rank's own training rate, when the record holds one.
        var samplesPerSecond: Double?
        /// The rank's own time in the epoch, when the record holds one.
        var seconds: Double?
        /// The bytes the server sent the rank in the epoch, when the record holds them.
        var sentBytes: Int? = nil
        /// The bytes the server received from the rank in the epoch, when the record holds them.
        var receivedBytes: Int? = nil
    }

    /// One `epoch` event.
    struct Epoch {
        var epoch: Int
        var trainLoss: Double?
        var testLoss: Double?
        /// A fraction in [0, 1]; nil for a regression (the file writes null).
        var testAccuracy: Double?
        var samplesPerSecond: Double?
        var seconds: Double?
        /// The `world_size` field, when the record has one.
        var worldSizeField: Int?
        var ranks: [Rank]
        /// The 1-based line of the file it came from.
        var line: Int
    }

    /// A `start`, `done`, `stopped`, `failed`, `membership` or `state_write_failed` event, in file order.
    struct Milestone {
        enum Kind: String {
            case start, done, stopped, failed, membership
            case stateWriteFailed = "state_write_failed"
        }
        var kind: Kind
        var line: Int
        var fields: [String: JSONValue]
    }

    /// The events this reader knows.
    static let knownEvents = ["start", "epoch", "done", "stopped", "failed", "membership", "state_write_failed"]

    /// The file it was read from.
    let path: String
    private(set) var milestones: [Milestone] = []
    /// The epochs in the order of their numbers; an epoch written twice (a resumed run redoing it) keeps the later record.
    private(set) var epochs: [Epoch] = []

    /// The first `start` event's fields (the run's configuration), empty when the file has none.
    var settings: [String: JSONValue] { milestones.first { $0.kind == .start }?.fields ?? [:] }

    /// The number of epochs the file records (each once, however often a resumed run wrote it).
    public var epochCount: Int { epochs.count }

    /// The training seconds and samples of the epochs up to `epoch` (1-based): what a run resumed after
    /// them carries over into its whole-run totals. Samples are the ranks' where the records list them,
    /// else the epoch's rate times its seconds.
    public func totals(throughEpoch epoch: Int) -> (seconds: Double, samples: Int) {
        epochs.filter { $0.epoch <= epoch }.reduce((0, 0)) { total, record in
            let seconds = record.seconds ?? 0
            let samples = record.ranks.isEmpty ? Int(((record.samplesPerSecond ?? 0) * seconds).rounded())
                : record.ranks.reduce(0) { $0 + ($1.samples ?? 0) }
            return (total.seconds + seconds, total.samples + samples)
        }
    }

    /// Reads and checks `path`; every problem names the file and the line.
    public init(contentsOf path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ReportError("cannot read the metrics file \(path): \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ReportError("\(path) is not UTF-8 text: not a metrics file")
        }
        try self.init(text: text, path: path)
    }

    /// Parses metrics lines; `path` names the source in errors.
    init(text: String, path: String) throws {
        self.path = path
        var byNumber: [Int: Epoch] = [:]
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let fields = try Self.object(line, at: lineNumber, in: path)
            let place = "\(path) line \(lineNumber)"
            guard let eventValue = fields["event"] else { throw ReportError("\(place): no \"event\" field: \(Self.excerpt(line))") }
            guard case .string(let event) = eventValue else { throw ReportError("\(place): \"event\" should be a string, found \(eventValue)") }
            switch event {
            case "epoch":
                let epoch = try Self.epoch(fields, line: lineNumber, where: place)
                byNumber[epoch.epoch] = epoch
            default:
                guard let kind = Milestone.Kind(rawValue: event) else {
                    throw ReportError("\(place): unknown event \"\(event)\" (this trainer knows \(Self.knownEvents.joined(separator: ", ")))")
                }
                milestones.append(Milestone(kind: kind, line: lineNumber, fields: fields))
            }
        }
        if milestones.isEmpty && byNumber.isEmpty {
            throw ReportError("\(path) is empty: it holds no metrics lines (write one with --metrics FILE)")
        }
        epochs = byNumber.values.sorted { $0.epoch < $1.epoch }
    }

    /// How many processes trained in `epoch`: its `world_size`, else its per-rank list's length,
    /// else the configured number of workers, else 1 (one process).
    func worldSize(of epoch: Epoch) -> Int {
        if let size = epoch.worldSizeField { return size }
        if !epoch.ranks.isEmpty { return epoch.ranks.count }
        if let workers = settings["workers"]?.integer { return workers }
        return 1
    }

    /// Whether the run used a parameter server and workers (the file holds per-rank figures or a mode).
    var isCluster: Bool {
        settings["mode"] != nil || settings["workers"] != nil || epochs.contains { !$0.ranks.isEmpty || $0.worldSizeField != nil }
    }

    // MARK: Reading one line

    private static func object(_ line: String, at number: Int, in path: String) throws -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
        } catch {
            throw ReportError("\(path) line \(number): not valid JSON: \(excerpt(line))")
        }
        guard case .object(let fields) = value else {
            throw ReportError("\(path) line \(number): not a JSON object: \(excerpt(line))")
        }
        return fields
    }

    private static func epoch(_ fields: [String: JSONValue], line: Int, where place: String) throws -> Epoch {
        guard let epochNumber = try integer("epoch", in: fields, at: place) else { throw ReportError("\(place): an epoch event without \"epoch\"") }
        guard epochNumber >= 1 else { throw ReportError("\(place): \"epoch\" should be at least 1, found \(epochNumber)") }
        var ranks: [Rank] = []
        if let list = fields["workers"], list != .null {
            guard case .array(let items) = list else { throw ReportError("\(place): \"workers\" should be a list of per-rank objects, found \(list)") }
            for (index, item) in items.enumerated() {
                guard case .object(let rank) = item else {
                    throw ReportError("\(place): \"workers\" entry \(index) should be an object, found \(item)")
                }
                let at = "\(place), workers entry \(index)"
                ranks.append(Rank(rank: try integer("rank", in: rank, at: at) ?? index, steps: try integer("steps", in: rank, at: at),
                                  samples: try integer("samples", in: rank, at: at),
                                  samplesPerSecond: try number("samples_per_second", in: rank, at: at),
                                  seconds: try number("seconds", in: rank, at: at),
                                  sentBytes: try integer("sent_bytes", in: rank, at: at),
                                  receivedBytes: try integer("received_bytes", in: rank, at: at)))
            }
        }
        return Epoch(epoch: epochNumber, trainLoss: try number("train_loss", in: fields, at: place),
                     testLoss: try number("test_loss", in: fields, at: place),
                     testAccuracy: try number("test_accuracy", in: fields, at: place),
                     samplesPerSecond: try number("samples_per_second", in: fields, at: place),
                     seconds: try number("seconds", in: fields, at: place),
                     worldSizeField: try integer("world_size", in: fields, at: place), ranks: ranks, line: line)
    }

    /// A number field: nil when absent or null, an error when of another type.
    private static func number(_ key: String, in fields: [String: JSONValue], at place: String) throws -> Double? {
        switch fields[key] {
        case nil, .null?: return nil
        case .number(let value)?: return value
        case let other?: throw ReportError("\(place): \"\(key)\" should be a number, found \(other)")
        }
    }

    /// A whole-number field: nil when absent or null, an error when fractional or of another type.
    private static func integer(_ key: String, in fields: [String: JSONValue], at place: String) throws -> Int? {
        guard let value = try number(key, in: fields, at: place) else { return nil }
        guard let whole = Int(exactly: value) else { throw ReportError("\(place): \"\(key)\" should be a whole number, found \(value)") }
        return whole
    }

    private static func excerpt(_ line: String) -> String {
        line.count <= 80 ? line : String(line.prefix(77)) + "..."
    }
}
