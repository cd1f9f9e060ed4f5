import Foundation
import Testing
@testable import trainer

/// `trainer report`: metrics files from real runs and hand-written ones for shapes the real commands
/// cannot make on demand (changing world size, resumed runs), read back into a page a strict XML
/// parser accepts.
@Suite(.serialized) struct ReportCommandTests {
    /// A report page parsed, with lookups by chart.
    struct Page {
        let text: String
        let xml: ParsedXML

        init(_ text: String) {
            self.text = text
            xml = ParsedXML(text)
        }

        /// The series of chart `number` (1-based, top to bottom): name → number of points drawn (0 when no polyline).
        func series(inChart number: Int) -> [(name: String, points: Int)] {
            guard let chart = xml.elements.firstIndex(where: { $0.attributes["id"] == "chart-\(number)" }) else { return [] }
            let groups = xml.elements.indices.filter {
                xml.elements[$0].attributes["class"] == "series" && isInside($0, chart)
            }
            return groups.map { group in
                let line = xml.elements.first { $0.name == "polyline" && $0.parent == group }
                return (xml.elements[group].attributes["data-name"] ?? "", line.map(pointCount) ?? 0)
            }
        }

        /// The y coordinates of the first polyline in chart `number`.
        func yCoordinates(inChart number: Int) -> [Double] {
            guard let chart = xml.elements.firstIndex(where: { $0.attributes["id"] == "chart-\(number)" }),
                  let line = xml.elements.indices.first(where: { xml.elements[$0].name == "polyline" && isInside($0, chart) }) else { return [] }
            return (xml.elements[line].attributes["points"] ?? "").split(separator: " ").compactMap { Double($0.split(separator: ",")[1]) }
        }

        /// The texts of class `kind` ("note", "empty", "title") in chart `number`.
        func texts(_ kind: String, inChart number: Int) -> [String] {
            guard let chart = xml.elements.firstIndex(where: { $0.attributes["id"] == "chart-\(number)" }) else { return [] }
            return xml.elements.indices.filter { xml.elements[$0].attributes["class"] == kind && isInside($0, chart) }.map { xml.elements[$0].text }
        }

        /// The cells of the per-epoch table, row by row, without the header.
        var epochRows: [[String]] {
            guard let table = xml.elements.firstIndex(where: { $0.name == "table" && $0.attributes["class"] == "epochs" }) else { return [] }
            let rows = xml.elements.indices.filter { xml.elements[$0].name == "tr" && xml.elements[$0].parent == table }
            return rows.map { row in xml.elements.filter { $0.name == "td" && $0.parent == row }.map(\.text) }.filter { !$0.isEmpty }
        }

        /// The rows of the table of class `kind`, header first (its th texts), then the td texts.
        func table(_ kind: String) -> [[String]] {
            guard let table = xml.elements.firstIndex(where: { $0.name == "table" && $0.attributes["class"] == kind }) else { return [] }
            let rows = xml.elements.indices.filter { xml.elements[$0].name == "tr" && xml.elements[$0].parent == table }
            return rows.map { row in xml.elements.filter { $0.parent == row }.map(\.text) }
        }

        /// The configuration table: label → value.
        var settings: [String: String] {
            guard let table = xml.elements.firstIndex(where: { $0.name == "table" && $0.attributes["class"] == "settings" }) else { return [:] }
            var result: [String: String] = [:]
            for row in xml.elements.indices where xml.elements[row].name == "tr" && xml.elements[row].parent == table {
                let cells = xml.elements.filter { $0.parent == row }.map(\.text)
                if cells.count == 2 { result[cells[0]] = cells[1] }
            }
            return result
        }

        /// The items of the course-of-the-run list.
        var timeline: [String] {
            guard let list = xml.elements.firstIndex(where: { $0.attributes["class"] == "timeline" }) else { return [] }
            return xml.elements.filter { $0.name == "li" && $0.parent == list }.map(\.text)
        }

        private func isInside(_ index: Int, _ ancestor: Int) -> Bool {
            var current = xml.elements[index].parent
            while let parent = current {
                if parent == ancestor { return true }
                current = xml.elements[parent].parent
            }
            return false
        }
    }

    /// Checks what every page must be: well-formed XML in the XHTML namespace, with no script and nothing fetched.
    func expectSelfContained(_ page: Page) {
        #expect(page.xml.error == nil, "not well-formed: \(String(describing: page.xml.error))")
        #expect(page.xml.elements.first?.name == "html")
        #expect(page.xml.elements.first?.attributes["xmlns"] == "http://www.w3.org/1999/xhtml")
        #expect(page.xml.named("script").isEmpty && page.xml.named("link").isEmpty && page.xml.named("img").isEmpty)
        let lowered = page.text.lowercased()
        for forbidden in ["<script", "src=", "href=", "url(", "@import", "javascript:"] {
            #expect(!lowered.contains(forbidden), "the page holds \(forbidden)")
        }
        for element in page.xml.elements {
            for (name, value) in element.attributes where name != "xmlns" {
                #expect(!value.contains("http:") && !value.contains("https:"), "\(element.name) \(name)=\(value) points outside the page")
            }
        }
    }

    func report(_ metrics: String) async throws -> (run: TrainerRun, page: Page) {
        let out = temporaryPath("report.html")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try await runTrainer(["report", metrics, "--out", out], timeout: 60)
        return (run, Page((try? String(contentsOfFile: out, encoding: .utf8)) ?? ""))
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
        let (run, page) = try await report(metrics)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("(6 epochs)"))
        expectSelfContained(page)
        // Every epoch's accuracy as the trainer printed it, in the table's accuracy column.
        let printed = printedAccuracies(training.stdout)
        #expect(printed.count == 6)
        #expect(page.epochRows.map { $0[3] } == printed)
        #expect(page.epochRows.map { $0[0] } == (1...6).map(String.init))
        #expect(page.epochRows.allSatisfy { $0[6] == "1" }, "one process has world size 1")
        #expect(page.settings["model"] == "mlp" && page.settings["data set"] == "xor" && page.settings["optimiser"] == "adam")
        #expect(page.settings["momentum"] == nil, "Adam ignores momentum")
        #expect(page.series(inChart: 1).map(\.points) == [6, 6])
        #expect(page.series(inChart: 2).map(\.points) == [6])
        #expect(page.series(inChart: 3).map(\.name) == ["this process"])
        #expect(page.series(inChart: 3).map(\.points) == [6])
        #expect(page.series(inChart: 4).map(\.points) == [6])
        #expect(Set(page.yCoordinates(inChart: 4)).count == 1, "a constant world size")
        #expect(page.timeline.first == "line 1: started, 6 epochs planned")
        #expect(page.timeline.last?.hasPrefix("line 8: done, 6 epochs") == true, "\(page.timeline)")
    }

    @Test func reportsARealLocalClusterRun() async throws {
        let metrics = temporaryPath("report-local.jsonl")
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let training = try await runTrainer(["local", "--workers", "2", "--dataset", "xor", "--epochs", "3", "--metrics", metrics])
        #expect(training.status == 0, "\(training.stderr)")
        let (run, page) = try await report(metrics)
        #expect(run.status == 0, "\(run.stderr)")
        expectSelfContained(page)
        #expect(page.epochRows.map { $0[3] } == printedAccuracies(training.stdout))
        #expect(page.epochRows.map { $0[6] } == ["2", "2", "2"])
        #expect(page.settings["mode"] == "sync" && page.settings["workers"] == "2" && page.settings["batch size per worker"] == "4")
        let rates = page.series(inChart: 3)
        #expect(rates.map(\.name) == ["rank 0", "rank 1"])
        #expect(rates.map(\.points) == [3, 3])
        #expect(page.texts("note", inChart: 3).first?.contains("wall-clock") == true)
        #expect(page.texts("note", inChart: 4) == ["from each epoch's world_size"])
        // The done event's per-rank totals: 3 steps each, and the samples the trainer printed per worker.
        let workers = page.table("workers")
        #expect(workers.first == ["rank", "steps", "samples", "wait seconds", "mean staleness", "max staleness", "rejected"])
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
        let (run, page) = try await report(metrics)
        #expect(run.status == 0, "\(run.stderr)")
        expectSelfContained(page)
        let printed = printedAccuracies(training.stdout)
        #expect(printed.count == 1 && page.epochRows.map { $0[3] } == printed)
        #expect(page.series(inChart: 1).map(\.points) == [1, 1])
        #expect(page.xml.named("h1").first?.text == "Training report: mlp on fashion-mnist")
    }

    /// A cluster run whose membership changes: rank 2 joins for epochs 2 and 3, and the file records world_size.
    static let changingWorld = """
        {"event":"start","model":"mlp","dataset":"mnist","parameters":109386,"optimizer":"sgd","lr":0.01,"momentum":0.9,"mode":"async","workers":2,"batch_size":64,"epochs":4,"seed":0}
        {"event":"epoch","epoch":1,"train_loss":0.61,"test_loss":0.30,"test_accuracy":0.9123,"samples_per_second":40000,"seconds":1.5,"world_size":2,"workers":[{"rank":0,"steps":469,"samples":30000},{"rank":1,"steps":469,"samples":30000}]}
        {"event":"epoch","epoch":2,"train_loss":0.28,"test_loss":0.22,"test_accuracy":0.9356,"samples_per_second":60000,"seconds":1.0,"world_size":3,"workers":[{"rank":0,"steps":313,"samples":20000},{"rank":1,"steps":313,"samples":20000},{"rank":2,"steps":313,"samples":20000}]}
        {"event":"epoch","epoch":3,"train_loss":0.21,"test_loss":0.18,"test_accuracy":0.9471,"samples_per_second":60000,"seconds":1.0,"world_size":3,"workers":[{"rank":0,"steps":313,"samples":20000},{"rank":1,"steps":313,"samples":20000},{"rank":2,"steps":313,"samples":20000}]}
        {"event":"epoch","epoch":4,"train_loss":0.17,"test_loss":0.15,"test_accuracy":0.9538,"samples_per_second":40000,"seconds":1.5,"world_size":2,"workers":[{"rank":0,"steps":469,"samples":30000},{"rank":1,"steps":469,"samples":30000}]}
        {"event":"done","epochs":4,"train_loss":0.17,"test_loss":0.15,"test_accuracy":0.9538,"samples_per_second":48000,"seconds":5.0,"world_size":2}

        """

    @Test func changingWorldSizeIsDrawnAndTabulated() throws {
        let page = Page(ReportPage(history: try MetricsHistory(text: Self.changingWorld, path: "changing.jsonl")).html())
        expectSelfContained(page)
        #expect(page.epochRows.map { $0[6] } == ["2", "3", "3", "2"])
        #expect(page.epochRows.map { $0[3] } == ["91.23%", "93.56%", "94.71%", "95.38%"])
        #expect(page.series(inChart: 4).map(\.points) == [4])
        let ys = page.yCoordinates(inChart: 4)
        #expect(ys.count == 4 && ys[1] < ys[0] && ys[1] == ys[2] && ys[3] == ys[0], "world size 2, 3, 3, 2 drawn as \(ys)")
        // The ranks' rates: the samples of each rank over the epoch's seconds; rank 2 only where it trained.
        let rates = page.series(inChart: 3)
        #expect(rates.map(\.name) == ["rank 0", "rank 1", "rank 2"])
        #expect(rates.map(\.points) == [4, 4, 2])
        let history = try MetricsHistory(text: Self.changingWorld, path: "changing.jsonl")
        let rank2 = try #require(ReportPage(history: history).rateChart.series.last)
        #expect(rank2.points.map(\.x) == [2, 3] && rank2.points.map(\.y) == [20000, 20000])
        #expect(page.settings["mode"] == "async" && page.settings["momentum"] == "0.9")
        #expect(page.timeline.last == "line 6: done, 4 epochs, test accuracy 95.38%, test loss 0.1500, 48000 samples/s, 5.00 s of training")
        #expect(page.table("workers").isEmpty)
    }

    @Test func worldSizeFallsBackToTheRanksThenToOneProcess() throws {
        let ranksOnly = """
            {"event":"epoch","epoch":1,"train_loss":0.5,"test_loss":0.4,"test_accuracy":0.8,"samples_per_second":10,"seconds":1,"workers":[{"rank":0,"steps":1,"samples":5},{"rank":1,"steps":1,"samples":5},{"rank":2,"steps":1,"samples":5}]}
            """
        let history = try MetricsHistory(text: ranksOnly, path: "ranks.jsonl")
        #expect(history.worldSize(of: history.epochs[0]) == 3)
        let single = try MetricsHistory(text: #"{"event":"epoch","epoch":1,"train_loss":0.5,"test_loss":0.4,"test_accuracy":0.8}"#, path: "one.jsonl")
        #expect(single.worldSize(of: single.epochs[0]) == 1)
        // Without seconds the world size is drawn against the epoch.
        #expect(ReportPage(history: single).worldSizeChart.xLabel == "epoch")
    }

    @Test func resumedRunShowsTheStopTheResumeAndEachEpochOnce() throws {
        let start = #"{"event":"start","model":"mlp","dataset":"xor","optimizer":"adam","lr":0.01,"mode":"sync","workers":2,"batch_size":4,"epochs":4,"seed":0}"#
        func epoch(_ number: Int, _ accuracy: Double) -> String {
            #"{"event":"epoch","epoch":\#(number),"train_loss":0.5,"test_loss":0.4,"test_accuracy":\#(accuracy),"samples_per_second":100,"seconds":0.1,"world_size":2}"#
        }
        let text = [start, epoch(1, 0.5), epoch(2, 0.5),
                    #"{"event":"stopped","reason":"SIGINT","updates":2,"epochs":2,"seconds":0.2,"world_size":2,"workers":[]}"#,
                    start, epoch(2, 0.75), epoch(3, 1), epoch(4, 1),
                    #"{"event":"done","epochs":4,"train_loss":0.1,"test_loss":0.1,"test_accuracy":1.0,"samples_per_second":100,"seconds":0.2,"world_size":2,"#
                    + #""workers":[{"rank":0,"steps":2,"samples":8,"wait_seconds":0.25,"zone":"b"},{"rank":1,"steps":2,"samples":0,"wait_seconds":0}]}"#,
        ].joined(separator: "\n")
        let page = Page(ReportPage(history: try MetricsHistory(text: text, path: "resumed.jsonl")).html())
        expectSelfContained(page)
        #expect(page.timeline == [
            "line 1: started, 4 epochs planned", "line 4: stopped by SIGINT after 2 updates, 2 epochs finished",
            "line 5: resumed: a new start appended to the same file, 4 epochs planned",
            "line 9: done, 4 epochs, test accuracy 100.00%, test loss 0.1000, 100 samples/s, 0.20 s of training",
        ])
        // Epoch 2 was written twice; the resumed run's record wins.
        #expect(page.epochRows.map { $0[0] } == ["1", "2", "3", "4"])
        #expect(page.epochRows.map { $0[3] } == ["50.00%", "75.00%", "100.00%", "100.00%"])
        #expect(page.series(inChart: 1).map(\.points) == [4, 4])
        // The done event's per-rank totals, unknown fields after the known ones, and a caption saying whose they are.
        #expect(page.table("workers") == [["rank", "steps", "samples", "wait seconds", "zone"], ["0", "2", "8", "0.250", "b"], ["1", "2", "0", "0", "–"]])
        #expect(page.xml.named("p").contains { $0.text == "Totals per rank from the done event at line 9 (the last run in the file only)." })
    }

    @Test func chartsWithoutDataSaySo() throws {
        // A regression (accuracy null), and a run that crashed before its first epoch.
        let regression = """
            {"event":"start","model":"lstm","dataset":"sine","optimizer":"adam","lr":0.01,"batch_size":981,"epochs":2,"seed":0}
            {"event":"epoch","epoch":1,"train_loss":0.44,"test_loss":0.39,"test_accuracy":null,"samples_per_second":1000,"seconds":0.9}
            {"event":"epoch","epoch":2,"train_loss":0.39,"test_loss":0.32,"test_accuracy":null,"samples_per_second":1000,"seconds":0.9}
            """
        let sine = Page(ReportPage(history: try MetricsHistory(text: regression, path: "sine.jsonl")).html())
        expectSelfContained(sine)
        #expect(sine.series(inChart: 2).map(\.points) == [0])
        #expect(sine.texts("empty", inChart: 2).first?.hasPrefix("no data: no epoch has a test accuracy") == true)
        #expect(sine.texts("empty", inChart: 1).isEmpty)
        #expect(sine.epochRows.map { $0[3] } == ["–", "–"])
        #expect(sine.timeline.last?.contains("no done, stopped or failed event") == true)

        let crashed = Page(ReportPage(history: try MetricsHistory(text: regression.split(separator: "\n")[0] + "\n", path: "s.jsonl")).html())
        expectSelfContained(crashed)
        for chart in 1...4 {
            #expect(crashed.texts("empty", inChart: chart) == ["no data: the file holds no finished epoch"], "chart \(chart)")
            #expect(crashed.series(inChart: chart).allSatisfy { $0.points == 0 })
        }
        #expect(crashed.epochRows.isEmpty)
    }

    @Test func textFromTheFileIsEscaped() throws {
        let text = #"{"event":"start","model":"<b>mlp</b>","dataset":"a&b","note":"</table><script>x</script>"}"#
        let page = Page(ReportPage(history: try MetricsHistory(text: text, path: "odd<&>.jsonl")).html())
        expectSelfContained(page)
        #expect(page.settings["model"] == "<b>mlp</b>" && page.settings["note"] == "</table><script>x</script>")
        #expect(page.xml.named("h1").first?.text == "Training report: <b>mlp</b> on a&b")
    }

    @Test func longRunsListASampleOfEpochsAndDrawThemAll() throws {
        let lines = (1...95).map { #"{"event":"epoch","epoch":\#($0),"train_loss":1,"test_loss":1,"test_accuracy":0.5,"seconds":1}"# }
        let page = Page(ReportPage(history: try MetricsHistory(text: lines.joined(separator: "\n"), path: "long.jsonl")).html())
        expectSelfContained(page)
        let listed = page.epochRows.map { $0[0] }
        #expect(listed.count <= 30 && listed.count >= 20 && listed.last == "95", "\(listed)")
        #expect(page.series(inChart: 1).map(\.points) == [95, 95])
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
