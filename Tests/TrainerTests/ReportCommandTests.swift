import Foundation
import Testing
@testable import Reports

/// `trainer report` on the metrics files of real runs: the command writes the Reports library's page of the file,
/// and the page holds what the runs printed. ReportsTests checks the page itself in depth (well-formed XML,
/// nothing fetched, every chart and table) on hand-written files.
@Suite(.serialized) struct ReportCommandTests {
    /// What `trainer report` printed and wrote, and the page the library makes of the same file.
    struct Report {
        let run: TrainerRun
        /// The file the command wrote.
        let html: String
        /// The library's page of the metrics file.
        let page: ReportPage

        /// The texts of the cells (`td`, and `th` for `header`) of each row of the table of class `kind`.
        func rows(_ kind: String, header: Bool = false) -> [[String]] {
            guard let start = html.range(of: "<table class=\"\(kind)\">"),
                  let end = html.range(of: "</table>", range: start.upperBound..<html.endIndex) else { return [] }
            let cell = header ? /<t[hd]>([^<]*)<\/t[hd]>/ : /<td>([^<]*)<\/td>/
            return html[start.upperBound..<end.lowerBound].split(separator: "</tr>").map { row in
                row.matches(of: cell).map { String($0.1) }
            }.filter { !$0.isEmpty }
        }

        /// The configuration table: label → value.
        var settings: [String: String] {
            Dictionary(rows("settings", header: true).filter { $0.count == 2 }.map { ($0[0], $0[1]) }) { first, _ in first }
        }

        /// The items of the course-of-the-run list.
        var timeline: [String] { html.matches(of: /<li>([^<]*)<\/li>/).map { String($0.1) } }

        /// The number of points each series of chart `number` (1-based, top to bottom) draws.
        func pointsDrawn(inChart number: Int) -> [Int] {
            let chart = page.charts[number - 1]
            return chart.series.indices.map { chart.drawablePoints($0).count }
        }
    }

    func report(_ metrics: String) async throws -> Report {
        let out = temporaryPath("report.html")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try await runTrainer(["report", metrics, "--out", out], timeout: 60)
        let html = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let page = ReportPage(history: try MetricsHistory(contentsOf: metrics))
        #expect(html == page.html(), "trainer report wrote another page than the library's of \(metrics)")
        return Report(run: run, html: html, page: page)
    }

    /// The percentages the epoch lines printed, in order.
    func printedAccuracies(_ stdout: String) -> [String] {
        stdout.split(separator: "\n").filter { $0.hasPrefix("Epoch ") }.compactMap { line in
            line.range(of: "test accuracy ").map { String(line[$0.upperBound...].prefix { $0 != "," }) }
        }
    }

    @Test func reportsARealOneProcessRun() async throws {
        let metrics = temporaryPath("report-train.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let training = try await runTrainer(["train", "--model", "mlp", "--dataset", "xor", "--epochs", "6", "--metrics", metrics])
        #expect(training.status == 0, "\(training.stderr)")
        let report = try await report(metrics)
        #expect(report.run.status == 0, "\(report.run.stderr)")
        #expect(report.run.stdout.contains("(6 epochs)"))
        // Every epoch's accuracy as the trainer printed it, in the table's accuracy column.
        let printed = printedAccuracies(training.stdout)
        #expect(printed.count == 6)
        let epochs = report.rows("epochs")
        #expect(epochs.map { $0[3] } == printed)
        #expect(epochs.map { $0[0] } == (1...6).map(String.init))
        #expect(epochs.allSatisfy { $0[6] == "1" }, "one process has world size 1")
        let settings = report.settings
        #expect(settings["model"] == "mlp" && settings["data set"] == "xor" && settings["optimiser"] == "adam", "\(settings)")
        #expect(settings["momentum"] == nil, "Adam ignores momentum")
        #expect(report.pointsDrawn(inChart: 1) == [6, 6])
        #expect(report.pointsDrawn(inChart: 2) == [6])
        #expect(report.page.charts[2].series.map(\.name) == ["this process"])
        #expect(report.pointsDrawn(inChart: 3) == [6])
        #expect(report.pointsDrawn(inChart: 4) == [6])
        #expect(Set(report.page.charts[3].series[0].points.map { $0.y }).count == 1, "a constant world size")
        #expect(report.timeline.first == "line 1: started, 6 epochs planned")
        #expect(report.timeline.last?.hasPrefix("line 8: done, 6 epochs") == true, "\(report.timeline)")
    }

    @Test func reportsARealLocalClusterRun() async throws {
        let metrics = temporaryPath("report-local.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let training = try await runTrainer(["local", "--workers", "2", "--dataset", "xor", "--epochs", "3", "--metrics", metrics])
        #expect(training.status == 0, "\(training.stderr)")
        let report = try await report(metrics)
        #expect(report.run.status == 0, "\(report.run.stderr)")
        let epochs = report.rows("epochs")
        #expect(epochs.map { $0[3] } == printedAccuracies(training.stdout))
        #expect(epochs.map { $0[6] } == ["2", "2", "2"])
        let settings = report.settings
        #expect(settings["mode"] == "sync" && settings["workers"] == "2" && settings["batch size per worker"] == "4", "\(settings)")
        #expect(report.page.charts[2].series.map(\.name) == ["rank 0", "rank 1"])
        #expect(report.pointsDrawn(inChart: 3) == [3, 3])
        #expect(report.page.charts[2].note.contains("wall-clock"))
        #expect(report.page.charts[3].note == "from each epoch's world_size")
        // The done event's per-rank totals: 3 steps each, and the samples the trainer printed per worker.
        let workers = report.rows("workers", header: true)
        #expect(workers.first == ["rank", "steps", "samples", "wait seconds", "mean staleness", "max staleness", "steps ahead", "rejected", "received bytes", "sent bytes"])
        // Sync: every push was computed on the weights all workers had (3 steps at 0 steps ahead).
        #expect(workers.dropFirst().allSatisfy { $0[6] == "[3]" }, "\(workers)")
        #expect(workers.dropFirst().map { Array($0.prefix(2)) } == [["0", "3"], ["1", "3"]])
        for row in workers.dropFirst() {
            #expect(training.stdout.contains("Worker \(row[0]): 3 steps, \(row[2]) samples;"), "\(row)")
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist"),
                   "needs Fashion-MNIST: run Deploy/setup.sh (apt-get install dataset-fashion-mnist)"))
    func reportsAFashionMNISTEpoch() async throws {
        let metrics = temporaryPath("report-fashion.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let training = try await runTrainer(["train", "--dataset", "fashion-mnist", "--data-dir", "/usr/share/datasets", "--epochs", "1",
                                             "--metrics", metrics])
        #expect(training.status == 0, "\(training.stderr)")
        let report = try await report(metrics)
        #expect(report.run.status == 0, "\(report.run.stderr)")
        let printed = printedAccuracies(training.stdout)
        #expect(printed.count == 1 && report.rows("epochs").map { $0[3] } == printed)
        #expect(report.pointsDrawn(inChart: 1) == [1, 1])
        #expect(report.html.contains("<h1>Training report: mlp on fashion-mnist</h1>"))
    }

    @Test func badFilesAreRefusedWithTheLine() async throws {
        let cases: [(String, String)] = [
            ("{\"event\":\"start\"}\n{\"event\":\"epoch\",\"epoch\":1}\nnot json\n", "line 3: not valid JSON: not json"),
            ("{\"event\":\"start\"}\n[1,2]\n", "line 2: not a JSON object"),
            ("{\"event\":\"join\",\"rank\":3}\n", "line 1: unknown event \"join\""),
            ("{\"epoch\":1}\n", "line 1: no \"event\" field"),
            ("{\"event\":\"epoch\",\"epoch\":1,\"test_accuracy\":\"high\"}\n", "line 1: \"test_accuracy\" should be a number, found \"high\""),
            ("{\"event\":\"epoch\",\"epoch\":1.5}\n", "line 1: \"epoch\" should be a whole number"),
            ("{\"event\":\"epoch\",\"train_loss\":1}\n", "line 1: an epoch event without \"epoch\""),
            ("{\"event\":\"epoch\",\"epoch\":1,\"workers\":[{\"rank\":0,\"samples\":\"many\"}]}\n", "line 1, workers entry 0: \"samples\" should be a number"),
            ("", "is empty"),
            ("\n  \n", "is empty"),
        ]
        for (index, (content, message)) in cases.enumerated() {
            let path = temporaryPath("bad-\(index).jsonl"), out = temporaryPath("bad-\(index).html")
            defer { for file in [path, out] { try? FileManager.default.removeItem(atPath: file) } }
            try content.write(toFile: path, atomically: true, encoding: .utf8)
            let run = try await runTrainer(["report", path, "--out", out], timeout: 60)
            #expect(run.status != 0, "accepted \(content.debugDescription)")
            #expect(run.stderr.contains(path) && run.stderr.contains(message), "for \(content.debugDescription): \(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "wrote a page for a bad file")
        }
        let missing = try await runTrainer(["report", "/nonexistent/run.jsonl"], timeout: 60)
        #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/run.jsonl"))
    }
}
