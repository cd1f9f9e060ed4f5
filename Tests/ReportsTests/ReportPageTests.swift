import Foundation
import Testing
@testable import Reports

/// The page `trainer report` writes, from hand-written metrics files for shapes the real commands cannot make on
/// demand (changing world size, resumed runs), read back by a strict XML parser. TrainerTests' ReportCommandTests
/// runs the command on real runs' files.
@Suite struct ReportPageTests {
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
        let page = ReportPageXML(ReportPage(history: try MetricsHistory(text: Self.changingWorld, path: "changing.jsonl")).html())
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
        let page = ReportPageXML(ReportPage(history: try MetricsHistory(text: text, path: "resumed.jsonl")).html())
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
        let sine = ReportPageXML(ReportPage(history: try MetricsHistory(text: regression, path: "sine.jsonl")).html())
        expectSelfContained(sine)
        #expect(sine.series(inChart: 2).map(\.points) == [0])
        #expect(sine.texts("empty", inChart: 2).first?.hasPrefix("no data: no epoch has a test accuracy") == true)
        #expect(sine.texts("empty", inChart: 1).isEmpty)
        #expect(sine.epochRows.map { $0[3] } == ["–", "–"])
        #expect(sine.timeline.last?.contains("no done, stopped or failed event") == true)

        let crashed = ReportPageXML(ReportPage(history: try MetricsHistory(text: regression.split(separator: "\n")[0] + "\n", path: "s.jsonl")).html())
        expectSelfContained(crashed)
        for chart in 1...4 {
            #expect(crashed.texts("empty", inChart: chart) == ["no data: the file holds no finished epoch"], "chart \(chart)")
            #expect(crashed.series(inChart: chart).allSatisfy { $0.points == 0 })
        }
        #expect(crashed.epochRows.isEmpty)
    }

    @Test func textFromTheFileIsEscaped() throws {
        let text = #"{"event":"start","model":"<b>mlp</b>","dataset":"a&b","note":"</table><script>x</script>"}"#
        let page = ReportPageXML(ReportPage(history: try MetricsHistory(text: text, path: "odd<&>.jsonl")).html())
        expectSelfContained(page)
        #expect(page.settings["model"] == "<b>mlp</b>" && page.settings["note"] == "</table><script>x</script>")
        #expect(page.xml.named("h1").first?.text == "Training report: <b>mlp</b> on a&b")
    }

    @Test func longRunsListASampleOfEpochsAndDrawThemAll() throws {
        let lines = (1...95).map { #"{"event":"epoch","epoch":\#($0),"train_loss":1,"test_loss":1,"test_accuracy":0.5,"seconds":1}"# }
        let page = ReportPageXML(ReportPage(history: try MetricsHistory(text: lines.joined(separator: "\n"), path: "long.jsonl")).html())
        expectSelfContained(page)
        let listed = page.epochRows.map { $0[0] }
        #expect(listed.count <= 30 && listed.count >= 20 && listed.last == "95", "\(listed)")
        #expect(page.series(inChart: 1).map(\.points) == [95, 95])
    }
}
