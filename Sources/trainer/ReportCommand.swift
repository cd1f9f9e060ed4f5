import ArgumentParser
import Foundation
import Reports

/// `trainer report`: turns a metrics file into one self-contained HTML page.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a metrics file (--metrics of train, local or server) as one HTML page with charts.",
        discussion: """
            The page holds the run's configuration, how it went (started, stopped, resumed, done), charts of training and \
            test loss, test accuracy, training samples per second per worker and the world size, and a table of per-epoch \
            figures. Everything is inline (CSS and SVG, no script): it opens offline and can be mailed as one file.
            """
    )

    @Argument(help: "The metrics file (JSON lines) that --metrics wrote.")
    var metrics: String

    @Option(help: "The HTML file to write.")
    var out: String = "report.html"

    func run() throws {
        let history = try MetricsHistory(contentsOf: metrics)
        try ReportPage(history: history).write(to: out)
        print("Wrote the report of \(metrics) (\(history.epochCount) epoch\(history.epochCount == 1 ? "" : "s")) to \(out)")
    }
}
