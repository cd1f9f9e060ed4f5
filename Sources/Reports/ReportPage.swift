import Foundation

/// The page `trainer report` writes: one self-contained XHTML-compatible HTML file (inline CSS and
/// SVG, no script, nothing fetched) with a run's configuration, how it ended, its charts and a table
/// of per-epoch figures.
public struct ReportPage {
    let history: MetricsHistory
    /// The most epochs the table lists one by one; longer runs list an even sample and the last.
    var tableRows = 30

    /// The page of `history`.
    public init(history: MetricsHistory) { self.history = history }

    /// The settings in the order a reader expects, with the labels the page prints.
    private static let settingLabels: [(key: String, label: String)] = [
        ("model", "model"), ("dataset", "data set"), ("parameters", "parameters"), ("optimizer", "optimiser"),
        ("lr", "learning rate"), ("momentum", "momentum"), ("mode", "mode"), ("workers", "workers"),
        ("batch_size", "batch size"), ("epochs", "epochs"), ("seed", "seed"),
    ]

    /// "mlp on fashion-mnist", or the file's name when it holds no settings.
    var title: String {
        let settings = history.settings
        if let model = settings["model"]?.text, let dataset = settings["dataset"]?.text { return "\(model) on \(dataset)" }
        return URL(fileURLWithPath: history.path).lastPathComponent
    }

    // MARK: Charts

    /// The four charts, top to bottom: loss, accuracy, samples per second per worker, world size.
    var charts: [LineChart] { [lossChart, accuracyChart, rateChart, worldSizeChart, trafficChart] }

    private var epochNumbers: [Double] { history.epochs.map { Double($0.epoch) } }
    private var noEpochs: String { "no data: the file holds no finished epoch" }

    /// Training and test loss per epoch (log scale for a regression, as `--plot` draws it).
    var lossChart: LineChart {
        let epochs = history.epochs
        let regression = !epochs.isEmpty && epochs.allSatisfy { $0.testAccuracy == nil }
        var chart = LineChart(title: "Loss per epoch", xLabel: "epoch", yLabel: regression ? "mean squared error" : "loss", series: [
            .init(name: "training loss", points: Self.points(epochs) { $0.trainLoss }),
            .init(name: "test loss", points: Self.points(epochs) { $0.testLoss }),
        ], logScaleY: regression, emptyMessage: noEpochs)
        chart.wholeNumberX = true
        return chart
    }

    /// Test accuracy (percent) per epoch.
    var accuracyChart: LineChart {
        let epochs = history.epochs
        let empty = epochs.isEmpty ? noEpochs : "no data: no epoch has a test accuracy (a regression is scored by its loss alone)"
        var chart = LineChart(title: "Test accuracy per epoch", xLabel: "epoch", yLabel: "accuracy (%)", series: [
            .init(name: "test accuracy", points: Self.points(epochs) { $0.testAccuracy.map { 100 * $0 } }),
        ], emptyMessage: empty)
        chart.wholeNumberX = true
        return chart
    }

    /// Training samples per second per worker (rank) per epoch, with a note saying how each rate was found.
    var rateChart: LineChart {
        let epochs = history.epochs
        let ranks = Set(epochs.flatMap { $0.ranks.map(\.rank) }).sorted()
        var chart = LineChart(title: "Training samples per second per worker", xLabel: "epoch", yLabel: "samples/s", emptyMessage: noEpochs)
        chart.wholeNumberX = true
        if ranks.isEmpty {
            chart.series = [.init(name: history.isCluster ? "all workers" : "this process", points: Self.points(epochs) { $0.samplesPerSecond })]
            chart.note = history.isCluster ? "the run-wide rate: the file has no per-rank figures"
                                           : "one process: its training samples per second"
            return chart
        }
        var usedEpochTime = false, usedOwnFigures = false
        chart.series = ranks.map { rank in
            var points: [(x: Double, y: Double)] = []
            for epoch in epochs {
                guard let record = epoch.ranks.first(where: { $0.rank == rank }) else { continue }
                if let rate = record.samplesPerSecond {
                    usedOwnFigures = true
                    points.append((Double(epoch.epoch), rate))
                } else if let samples = record.samples, let seconds = record.seconds, seconds > 0 {
                    usedOwnFigures = true
                    points.append((Double(epoch.epoch), Double(samples) / seconds))
                } else if let samples = record.samples, let seconds = epoch.seconds, seconds > 0 {
                    usedEpochTime = true
                    points.append((Double(epoch.epoch), Double(samples) / seconds))
                }
            }
            return .init(name: "rank \(rank)", points: points)
        }
        chart.note = switch (usedOwnFigures, usedEpochTime) {
        case (_, true): "a rank's samples in the epoch ÷ the epoch's wall-clock seconds (the records hold no per-rank time)"
        case (true, false): "each rank's own samples per second"
        case (false, false): ""
        }
        return chart
    }

    /// The number of training processes at the end of each epoch, against the training time so far
    /// (or the epoch, when some epoch lacks its seconds).
    var worldSizeChart: LineChart {
        let epochs = history.epochs
        let timed = !epochs.isEmpty && epochs.allSatisfy { $0.seconds != nil }
        var elapsed = 0.0
        let points: [(x: Double, y: Double)] = epochs.map { epoch in
            elapsed += epoch.seconds ?? 0
            return (timed ? elapsed : Double(epoch.epoch), Double(history.worldSize(of: epoch)))
        }
        let source = epochs.contains { $0.worldSizeField != nil } ? "from each epoch's world_size"
            : epochs.contains { !$0.ranks.isEmpty } ? "the number of ranks reporting in each epoch"
            : history.isCluster ? "the configured number of workers" : "one process"
        var chart = LineChart(title: "World size over time", xLabel: timed ? "training time (s), at the end of each epoch" : "epoch",
                              yLabel: "processes training", series: [.init(name: "world size", points: points)],
                              note: epochs.isEmpty ? "" : source, emptyMessage: noEpochs)
        chart.wholeNumberX = !timed
        chart.wholeNumberY = true
        return chart
    }

    /// The megabytes the server sent each rank and received from it per epoch (the pushes and the
    /// weights, with their headers), from the per-rank byte counts of each epoch record.
    var trafficChart: LineChart {
        let epochs = history.epochs
        let ranks = Set(epochs.flatMap { $0.ranks.filter { $0.sentBytes != nil || $0.receivedBytes != nil }.map(\.rank) }).sorted()
        let empty = epochs.isEmpty ? noEpochs : "no data: the records hold no byte counts (written before protocol version 4)"
        var chart = LineChart(title: "Bytes on the wire per worker per epoch", xLabel: "epoch", yLabel: "MB", emptyMessage: empty)
        chart.wholeNumberX = true
        func series(_ name: String, rank: Int, _ bytes: (MetricsHistory.Rank) -> Int?) -> LineChart.Series {
            .init(name: "rank \(rank) \(name)", points: epochs.compactMap { epoch in
                epoch.ranks.first { $0.rank == rank }.flatMap(bytes).map { (Double(epoch.epoch), Double($0) / 1e6) }
            })
        }
        chart.series = ranks.flatMap { rank in [series("received (pushes)", rank: rank, \.receivedBytes), series("sent (weights)", rank: rank, \.sentBytes)] }
        if !ranks.isEmpty { chart.note = "as the server counted them; the codecs are in the configuration (compress, compress weights)" }
        return chart
    }

    private static func points(_ epochs: [MetricsHistory.Epoch], _ value: (MetricsHistory.Epoch) -> Double?) -> [(x: Double, y: Double)] {
        epochs.compactMap { epoch in value(epoch).map { (Double(epoch.epoch), $0) } }
    }

    // MARK: The page

    /// The whole page.
    func html() -> String {
        var out = """
            <!DOCTYPE html>
            <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
            <head>
            <meta charset="utf-8"/>
            <title>Training report: \(xmlEscaped(title))</title>
            <style>
            \(Self.css)
            </style>
            </head>
            <body>
            <h1>Training report: \(xmlEscaped(title))</h1>
            <p class="source">From <code>\(xmlEscaped(history.path))</code>: \(history.epochs.count) epoch\(history.epochs.count == 1 ? "" : "s") recorded.</p>

            """
        out += settingsTable() + timeline()
        out += "<h2>Charts</h2>\n"
        for (index, chart) in charts.enumerated() {
            out += "<div class=\"chart\" id=\"chart-\(index + 1)\">\n"
            out += SVGDocument.element(width: 800, height: 360, body: chart.body(width: 800, height: 360))
            out += "</div>\n"
        }
        out += epochTable() + workerTable()
        out += "</body>\n</html>\n"
        return out
    }

    /// Writes the page to `path`.
    public func write(to path: String) throws {
        do {
            try html().write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ReportError("cannot write the report \(path): \(error.localizedDescription)")
        }
    }

    private func settingsTable() -> String {
        let settings = history.settings
        var rows: [(String, String)] = []
        let adam = settings["optimizer"]?.text == "adam"
        for (key, label) in Self.settingLabels {
            guard let value = settings[key] else { continue }
            if key == "momentum" && adam { continue }  // Adam ignores it; the file records the flag's default.
            let shown = key == "batch_size" && settings["workers"] != nil ? "batch size per worker" : label
            rows.append((shown, value.text))
        }
        let known = Set(Self.settingLabels.map(\.key))
        for key in settings.keys.sorted() where !known.contains(key) && key != "event" {
            rows.append((key.replacingOccurrences(of: "_", with: " "), settings[key]!.text))
        }
        if !history.isCluster && !settings.isEmpty { rows.append(("processes", "one (trainer train)")) }
        guard !rows.isEmpty else { return "<h2>Configuration</h2>\n<p>The file holds no start event: the configuration is unknown.</p>\n" }
        var out = "<h2>Configuration</h2>\n<table class=\"settings\">\n"
        for (label, value) in rows { out += "<tr><th>\(xmlEscaped(label))</th><td>\(xmlEscaped(value))</td></tr>\n" }
        return out + "</table>\n"
    }

    private func timeline() -> String {
        var out = "<h2>Course of the run</h2>\n<ul class=\"timeline\">\n"
        var started = false
        for milestone in history.milestones {
            let fields = milestone.fields
            let text: String
            switch milestone.kind {
            case .start:
                let planned = fields["epochs"].map { ", \($0.text) epochs planned" } ?? ""
                text = started ? "resumed: a new start appended to the same file\(planned)" : "started\(planned)"
                started = true
            case .stopped:
                let reason = fields["reason"]?.text ?? "an unknown reason"
                let updates = fields["updates"].map { " after \($0.text) updates" } ?? ""
                let finished = fields["epochs"].map { ", \($0.text) epochs finished" } ?? ""
                text = "stopped by \(reason)\(updates)\(finished)"
            case .failed:
                let finished = fields["epochs"].map { " after \($0.text) epochs" } ?? ""
                text = "failed\(finished): \(fields["reason"]?.text ?? "an unknown reason")"
            case .stateWriteFailed:
                let count = fields["in_row"].map { " (\($0.text) in a row)" } ?? ""
                text = "the state file could not be written\(count): \(fields["error"]?.text ?? "an unknown error")"
            case .membership:
                let rank = fields["rank"]?.text ?? "?", world = fields["world_size"]?.text ?? "?"
                let silent: String
                if case .number(let seconds)? = fields["silent_seconds"] {
                    silent = String(format: " after %.1f s of silence", seconds)
                } else {
                    silent = ""
                }
                let step = fields["step"].map { " at step \($0.text)" } ?? ""
                text = (fields["change"]?.text == "dropped" ? "worker rank \(rank) dropped\(silent)" : "worker rank \(rank) joined")
                    + "\(step): \(world) worker\(world == "1" ? "" : "s")"
            case .done:
                var parts = ["done"]
                if let epochs = fields["epochs"] { parts.append("\(epochs.text) epochs") }
                if case .number(let accuracy)? = fields["test_accuracy"] { parts.append("test accuracy \(String(format: "%.2f", 100 * accuracy))%") }
                if case .number(let loss)? = fields["test_loss"] { parts.append("test loss \(format(loss))") }
                if case .number(let rate)? = fields["samples_per_second"] { parts.append("\(Int(rate.rounded())) samples/s") }
                if case .number(let seconds)? = fields["seconds"] { parts.append("\(String(format: "%.2f", seconds)) s of training") }
                text = parts.joined(separator: ", ")
            }
            out += "<li>line \(milestone.line): \(xmlEscaped(text))</li>\n"
        }
        if !history.milestones.contains(where: { [.done, .stopped, .failed].contains($0.kind) }) {
            out += "<li>no done, stopped or failed event: the run was still going when the file was read, or it crashed</li>\n"
        }
        return out + "</ul>\n"
    }

    private func epochTable() -> String {
        let epochs = history.epochs
        guard !epochs.isEmpty else { return "<h2>Epochs</h2>\n<p>No epoch finished.</p>\n" }
        var shown = epochs
        var caption = ""
        if epochs.count > tableRows {
            let every = (epochs.count + tableRows - 2) / (tableRows - 1)
            shown = epochs.enumerated().filter { $0.offset % every == every - 1 || $0.offset == epochs.count - 1 }.map(\.element)
            caption = "<p>One epoch in \(every) of \(epochs.count), and the last; the charts show them all.</p>\n"
        }
        var out = "<h2>Epochs</h2>\n" + caption + "<table class=\"epochs\">\n<tr><th>epoch</th><th>train loss</th><th>test loss</th>"
            + "<th>test accuracy</th><th>samples/s</th><th>seconds</th><th>world size</th></tr>\n"
        for epoch in shown {
            let accuracy: String? = epoch.testAccuracy.map { String(format: "%.2f", 100 * $0) + "%" }
            let rate: String? = epoch.samplesPerSecond.map { String(Int($0.rounded())) }
            let seconds: String? = epoch.seconds.map { String(format: "%.3f", $0) }
            let figures: [String?] = [String(epoch.epoch), epoch.trainLoss.map(format), epoch.testLoss.map(format),
                                      accuracy, rate, seconds, String(history.worldSize(of: epoch))]
            let cells = figures.map { $0 ?? "–" }
            out += "<tr>" + cells.map { "<td>\(xmlEscaped($0))</td>" }.joined() + "</tr>\n"
        }
        return out + "</table>\n"
    }

    /// The per-rank columns in the order the page prints them; other fields follow, sorted.
    private static let workerColumns = ["rank", "steps", "samples", "wait_seconds", "mean_staleness", "max_staleness", "steps_ahead",
                                        "rejected"]

    /// Each rank's totals from the last done or stopped event that lists them.
    private func workerTable() -> String {
        guard let ending = history.milestones.last(where: { milestone in
            guard milestone.kind != .start, case .array(let ranks)? = milestone.fields["workers"] else { return false }
            return !ranks.isEmpty
        }), case .array(let list)? = ending.fields["workers"] else { return "" }
        let ranks: [[String: JSONValue]] = list.compactMap { if case .object(let fields) = $0 { fields } else { nil } }
        let present = Set(ranks.flatMap(\.keys))
        let columns = Self.workerColumns.filter(present.contains) + present.subtracting(Self.workerColumns).sorted()
        var out = "<h2>Workers</h2>\n<p>Totals per rank from the \(ending.kind.rawValue) event at line \(ending.line)"
            + (history.milestones.filter { $0.kind == .start }.count > 1 ? " (the last run in the file only)" : "") + ".</p>\n"
        out += "<table class=\"workers\">\n<tr>" + columns.map { "<th>\(xmlEscaped($0.replacingOccurrences(of: "_", with: " ")))</th>" }.joined() + "</tr>\n"
        for rank in ranks {
            let cells = columns.map { column -> String in
                guard let value = rank[column] else { return "–" }
                if case .number(let number) = value, Int(exactly: number) == nil { return String(format: "%.3f", number) }
                return value.text
            }
            out += "<tr>" + cells.map { "<td>\(xmlEscaped($0))</td>" }.joined() + "</tr>\n"
        }
        return out + "</table>\n"
    }

    private static let css = """
        body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 840px; color: #222222; }
        h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
        table { border-collapse: collapse; font-size: 0.9em; }
        th, td { border: 1px solid #cccccc; padding: 0.25em 0.6em; }
        table.settings th { text-align: left; background: #f4f4f4; }
        table.epochs td, table.workers td { text-align: right; font-variant-numeric: tabular-nums; }
        .chart { margin: 1em 0; }
        .chart svg { max-width: 100%; height: auto; }
        .source { color: #555555; }
        """
}
