import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Reports

/// The elements of a parsed XML document, in document order, with their attributes and text.
final class ParsedXML: NSObject, XMLParserDelegate {
    struct Element {
        var name: String
        var attributes: [String: String]
        /// The index of the enclosing element, nil for the root.
        var parent: Int?
        var text = ""
    }

    private(set) var elements: [Element] = []
    private var open: [Int] = []
    private(set) var error: Error?

    /// Parses `text`; `error` is set when it is not well-formed.
    init(_ text: String) {
        super.init()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = self
        if !parser.parse() { error = parser.parserError ?? CocoaError(.coderReadCorrupt) }
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append(Element(name: elementName, attributes: attributes, parent: open.last))
        open.append(elements.count - 1)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        open.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let current = open.last { elements[current].text += string }
    }

    func named(_ name: String) -> [Element] { elements.filter { $0.name == name } }
    var texts: [String] { named("text").map(\.text) }
}

/// The number of points in a polyline's `points` attribute.
func pointCount(_ polyline: ParsedXML.Element) -> Int {
    (polyline.attributes["points"] ?? "").split(separator: " ").count
}

@Suite struct SVGPlotTests {
    var lossChart: LineChart {
        LineChart(title: "Loss per epoch", xLabel: "epoch", yLabel: "loss", series: [
            .init(name: "train", points: [(1, 2.30), (2, 0.61), (3, 0.42), (4, 0.35), (5, 0.31)]),
            .init(name: "test", points: [(1, 0.72), (2, 0.48), (3, 0.40), (4, 0.37)]),
        ])
    }

    @Test func chartIsWellFormedSVGWithTitleLegendSeriesAndTicks() throws {
        let text = lossChart.svg(width: 800, height: 450)
        let xml = ParsedXML(text)
        #expect(xml.error == nil, "not well-formed: \(String(describing: xml.error))")
        let root = try #require(xml.elements.first)
        #expect(root.name == "svg")
        #expect(root.attributes["xmlns"] == "http://www.w3.org/2000/svg")
        #expect(root.attributes["viewBox"] == "0 0 800 450")
        #expect(xml.texts.contains("Loss per epoch"))
        #expect(xml.texts.contains("epoch") && xml.texts.contains("loss"))
        // The legend names both series.
        let legend = try #require(xml.elements.firstIndex { $0.attributes["class"] == "legend" })
        #expect(xml.elements[legend...].filter { $0.name == "text" }.map(\.text) == ["train", "test"])
        // One polyline per series with every point, in distinct colours and dash patterns.
        let lines = xml.named("polyline")
        #expect(lines.map(pointCount) == [5, 4])
        #expect(Set(lines.compactMap { $0.attributes["stroke"] }).count == 2)
        #expect(lines[0].attributes["stroke-dasharray"] == nil)
        #expect(lines[1].attributes["stroke-dasharray"] != nil)
        #expect(xml.named("g").filter { $0.attributes["class"] == "series" }.compactMap { $0.attributes["data-name"] } == ["train", "test"])
        // Nice ticks: x 1…5 in steps of 0.5 or 1, y from 0 to 2.5 in steps of 0.5.
        let xTicks = tickLabels(xml, "x-ticks"), yTicks = tickLabels(xml, "y-ticks")
        for label in ["1", "2", "3", "4", "5"] { #expect(xTicks.contains(label) || xTicks.contains(label + ".0"), "x ticks \(xTicks)") }
        #expect(yTicks == ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5"], "y ticks \(yTicks)")
    }

    /// The texts of the tick group with the given class.
    func tickLabels(_ xml: ParsedXML, _ group: String) -> [String] {
        guard let start = xml.elements.firstIndex(where: { $0.attributes["class"] == group }) else { return [] }
        return xml.elements.filter { $0.parent == start && $0.name == "text" }.map(\.text)
    }

    @Test func seriesTakeUnlabelledPairs() {
        let pairs: [(Double, Double)] = [(0, 1), (1, 4), (2, 9)]
        let chart = LineChart(title: "pairs", series: [LineChart.Series(name: "squares", points: pairs)])
        #expect(ParsedXML(chart.svg()).named("polyline").map(pointCount) == [3])
    }

    @Test func textIsEscaped() throws {
        let chart = LineChart(title: "Loss <MSE> & \"accuracy\" 'x'", xLabel: "t < 1", yLabel: "a & b",
                              series: [.init(name: "<true>", points: [(0, 1), (1, 2)]), .init(name: "A&B\u{1}", points: [(0, 2), (1, 1)])])
        let xml = ParsedXML(chart.svg())
        #expect(xml.error == nil)
        #expect(xml.texts.contains("Loss <MSE> & \"accuracy\" 'x'"))
        #expect(xml.texts.contains("<true>"))
        #expect(xml.texts.contains("A&B"))
        #expect(xml.texts.contains("t < 1") && xml.texts.contains("a & b"))
    }

    @Test func nonFinitePointsAreSkipped() throws {
        let chart = LineChart(title: "gaps", series: [
            .init(name: "a", points: [(0, 1), (1, .nan), (2, .infinity), (.nan, 3), (4, -.infinity), (5, 2)]),
            .init(name: "b", x: [0, 1, 2] as [Float], y: [Float.nan, 1, 2]),
        ])
        let text = chart.svg()
        let xml = ParsedXML(text)
        #expect(xml.error == nil)
        #expect(xml.named("polyline").map(pointCount) == [2, 2])
        #expect(!text.lowercased().contains("nan") && !text.contains("inf"))
    }

    @Test func singlePointAndConstantSeriesGetARange() throws {
        let single = ParsedXML(LineChart(title: "one", series: [.init(name: "only", points: [(1, 0.5)])]).svg())
        #expect(single.error == nil)
        #expect(single.named("polyline").map(pointCount) == [1])
        #expect(single.named("circle").count == 1)
        #expect(tickLabels(single, "y-ticks").count >= 2)
        #expect(tickLabels(single, "x-ticks").count >= 2)

        let constant = LineChart(title: "flat", series: [.init(name: "c", values: [2.0, 2.0, 2.0, 2.0])])
        let xml = ParsedXML(constant.svg())
        #expect(xml.error == nil)
        let polyline = try #require(xml.named("polyline").first)
        #expect(pointCount(polyline) == 4)
        // The line sits inside the plot, not on an edge of a zero-height range.
        let ys = Set((polyline.attributes["points"] ?? "").split(separator: " ").map { $0.split(separator: ",")[1] })
        #expect(ys.count == 1)
        #expect(!text(of: xml).contains("nan"))
        #expect(tickLabels(xml, "y-ticks").count >= 2)

        let zeros = ParsedXML(LineChart(title: "zeros", series: [.init(name: "z", values: [0.0, 0.0])]).svg())
        #expect(zeros.error == nil && tickLabels(zeros, "y-ticks").contains("0.0"))

        let empty = ParsedXML(LineChart(title: "empty", series: [.init(name: "none", points: [])]).svg())
        #expect(empty.error == nil)
        #expect(empty.named("polyline").isEmpty)
        #expect(empty.texts.contains("no data"))
    }

    @Test func emptyChartSaysWhyAndNoteSitsUnderTheTitle() throws {
        let chart = LineChart(title: "rate", series: [.init(name: "rank 0", points: [(1, .nan)])], note: "samples ÷ seconds",
                              emptyMessage: "no data: no epoch finished")
        let xml = ParsedXML(chart.svg())
        #expect(xml.error == nil)
        #expect(xml.elements.filter { $0.attributes["class"] == "empty" }.map(\.text) == ["no data: no epoch finished"])
        #expect(xml.elements.filter { $0.attributes["class"] == "note" }.map(\.text) == ["samples ÷ seconds"])
        let drawn = ParsedXML(LineChart(title: "t", series: [.init(name: "a", values: [1.0, 2.0])]).svg())
        #expect(drawn.elements.allSatisfy { $0.attributes["class"] != "empty" && $0.attributes["class"] != "note" })
    }

    @Test func wholeNumberAxesTickAtIntegers() throws {
        var chart = LineChart(title: "world size", series: [.init(name: "size", points: [(1, 2), (2, 2), (3, 2)])])
        chart.wholeNumberX = true
        chart.wholeNumberY = true
        let xml = ParsedXML(chart.svg())
        #expect(tickLabels(xml, "y-ticks") == ["1", "2", "3"])
        #expect(tickLabels(xml, "x-ticks") == ["1", "2", "3"])
        // The bare element, as the HTML report embeds it, is the standalone document without its declaration.
        #expect(SVGDocument.standalone(width: 10, height: 10, body: "") == "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                + SVGDocument.element(width: 10, height: 10, body: ""))
    }

    func text(of xml: ParsedXML) -> String { xml.elements.map { $0.attributes.values.joined() + $0.text }.joined().lowercased() }

    @Test func logScaleHasDecadeTicksAndDropsNonPositiveValues() throws {
        let chart = LineChart(title: "loss", yLabel: "loss", series: [.init(name: "train", values: [2.3, 0.5, 0.05, 0.004, 0, -1])],
                              logScaleY: true)
        let xml = ParsedXML(chart.svg())
        #expect(xml.error == nil)
        #expect(xml.named("polyline").map(pointCount) == [4])
        #expect(tickLabels(xml, "y-ticks") == ["0.001", "0.01", "0.1", "1", "10"])
    }

    @Test func niceStepsAreOneTwoOrFiveTimesAPowerOfTen() {
        #expect(Axis.niceStep(0.7) == 1)
        #expect(Axis.niceStep(1.3) == 2)
        #expect(Axis.niceStep(3) == 5)
        #expect(Axis.niceStep(7) == 10)
        #expect(abs(Axis.niceStep(0.013) - 0.02) < 1e-15)
        #expect(Axis.niceStep(230) == 500)
        let axis = Axis.linear(values: [0, 100], targetTicks: 5)
        #expect(axis.ticks.map(\.label) == ["0", "20", "40", "60", "80", "100"])
        let small = Axis.linear(values: [-0.3, 0.3], targetTicks: 6)
        #expect(small.ticks.map(\.label) == ["-0.3", "-0.2", "-0.1", "0.0", "0.1", "0.2", "0.3"])
    }

    @Test func severalChartsStackInOneDocument() throws {
        let predictions = LineChart(title: "Sine: true vs predicted", xLabel: "t", yLabel: "sin(t)", series: [
            .init(name: "True", x: [0.0, 0.1, 0.2], y: [0.0, 0.0998, 0.1987]),
            .init(name: "Predicted", x: [0.0, 0.1, 0.2], y: [0.01, 0.09, 0.21]),
        ])
        let text = SVGDocument.stacked([lossChart, predictions], width: 640, chartHeight: 300)
        let xml = ParsedXML(text)
        #expect(xml.error == nil)
        #expect(xml.elements.first?.attributes["viewBox"] == "0 0 640 600")
        let charts = xml.named("g").filter { $0.attributes["class"] == "chart" }
        #expect(charts.map { $0.attributes["transform"] } == ["translate(0 0)", "translate(0 300)"])
        #expect(xml.named("polyline").map(pointCount) == [5, 4, 3, 3])
        #expect(xml.texts.contains("Loss per epoch") && xml.texts.contains("Sine: true vs predicted"))
        // The plot frames share one width although the legends' names differ in length.
        let frames = xml.named("rect").filter { $0.attributes["fill"] == "none" }
        #expect(frames.count == 2)
        #expect(Set(frames.compactMap { $0.attributes["width"] }).count == 1)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("svgplot-\(UUID().uuidString).svg").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try LineChart.write([lossChart, predictions], to: path)
        #expect(ParsedXML(try String(contentsOfFile: path, encoding: .utf8)).error == nil)
    }
}
