import Foundation

/// A line chart drawn as SVG with no dependencies: a title, x and y axes with "nice" ticks
/// (1, 2 or 5 × 10^k) and numeric labels, axis labels, any number of named series in distinct colours
/// and dash patterns, a legend, and an optional logarithmic y axis.
///
/// Points that are not finite (and, on a log axis, not positive) are skipped; a single point or a
/// constant series still gets a non-empty axis range; a chart with nothing to draw says so in its plot.
struct LineChart {
    /// One named curve.
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]

        init(name: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.points = points
        }

        /// A series from parallel x and y arrays (the shorter one sets the length).
        init<X: BinaryFloatingPoint, Y: BinaryFloatingPoint>(name: String, x: [X], y: [Y]) {
            self.init(name: name, points: zip(x, y).map { (Double($0), Double($1)) })
        }

        /// A series of values against their index, 0, 1, 2, … (as `plt.plot(values)` draws them).
        init<Y: BinaryFloatingPoint>(name: String, values: [Y]) {
            self.init(name: name, points: values.enumerated().map { (Double($0.offset), Double($0.element)) })
        }
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var series: [Series]
    /// Draws y on a base-10 logarithmic axis (for losses spanning decades).
    var logScaleY = false
    /// A smaller line under the title saying how to read the chart (empty: none).
    var note = ""
    /// What the plot says when no series has a point to draw.
    var emptyMessage = "no data"
    /// Ticks the x axis at whole numbers only (for epochs).
    var wholeNumberX = false
    /// Ticks the y axis at whole numbers only (for counts such as a number of workers).
    var wholeNumberY = false

    init(title: String, xLabel: String = "", yLabel: String = "", series: [Series] = [], logScaleY: Bool = false,
         note: String = "", emptyMessage: String = "no data") {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.logScaleY = logScaleY
        self.note = note
        self.emptyMessage = emptyMessage
    }

    /// The line colours, matplotlib's default cycle ("tab10").
    static let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    /// The dash patterns: solid, dashed, dotted, dash-dot.
    static let dashes: [String?] = [nil, "7 4", "2 3", "8 3 2 3"]

    /// The points of series `index` that can be drawn: finite, and positive y on a log axis.
    func drawablePoints(_ index: Int) -> [(x: Double, y: Double)] {
        series[index].points.filter { $0.x.isFinite && $0.y.isFinite && (!logScaleY || $0.y > 0) }
    }

    /// A standalone SVG document of this chart.
    func svg(width: Int = 800, height: Int = 450) -> String {
        SVGDocument.standalone(width: width, height: height, body: body(width: Double(width), height: Double(height)))
    }

    /// Writes the chart as a standalone SVG file.
    func write(to path: String, width: Int = 800, height: Int = 450) throws {
        try svg(width: width, height: height).write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Writes `charts` stacked vertically into one SVG file (`SVGDocument.write`).
    static func write(_ charts: [LineChart], to path: String, width: Int = 800, chartHeight: Int = 400) throws {
        try SVGDocument.write(charts, to: path, width: width, chartHeight: chartHeight)
    }

    /// The room the legend takes to the right of the plot in a chart `width` wide.
    func legendWidth(chartWidth width: Double) -> Double {
        let longestName = series.map(\.name.count).max() ?? 0
        return series.isEmpty ? 0 : min(width / 3, 44 + 7 * Double(longestName))
    }

    /// The chart's elements for a width × height area with its origin at the top left; `legendWidth`
    /// (default: what this chart's names need) lets stacked charts share one plot width.
    func body(width: Double, height: Double, legendWidth: Double? = nil) -> String {
        let drawable = series.indices.map(drawablePoints)
        let all = drawable.joined()
        let legendWidth = legendWidth ?? self.legendWidth(chartWidth: width)
        let left = 72.0, top = (title.isEmpty ? 16.0 : 40.0) + (note.isEmpty ? 0 : 18)
        let right = width - 20 - legendWidth, bottom = height - (xLabel.isEmpty ? 36 : 52)
        let plotWidth = max(right - left, 1), plotHeight = max(bottom - top, 1)

        let xAxis = Axis.linear(values: all.map(\.x), targetTicks: max(2, Int(plotWidth / 90)), minimumStep: wholeNumberX ? 1 : 0)
        let yAxis = logScaleY ? Axis.logarithmic(values: all.map(\.y))
                              : Axis.linear(values: all.map(\.y), targetTicks: max(2, Int(plotHeight / 55)), minimumStep: wholeNumberY ? 1 : 0)
        func px(_ x: Double) -> Double { left + xAxis.fraction(x) * plotWidth }
        func py(_ y: Double) -> Double { bottom - yAxis.fraction(y) * plotHeight }

        var out = ""
        out += "<rect x=\"0\" y=\"0\" width=\"\(coordinate(width))\" height=\"\(coordinate(height))\" fill=\"white\"/>\n"
        if !title.isEmpty {
            out += "<text class=\"title\" x=\"\(coordinate(width / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" "
                + "font-weight=\"bold\">\(xmlEscaped(title))</text>\n"
        }
        if !note.isEmpty {
            out += "<text class=\"note\" x=\"\(coordinate(width / 2))\" y=\"\(coordinate(top - 10))\" text-anchor=\"middle\" font-size=\"12\" "
                + "fill=\"#555555\">\(xmlEscaped(note))</text>\n"
        }
        // Grid, ticks and tick labels.
        out += "<g class=\"x-ticks\" font-size=\"11\" text-anchor=\"middle\">\n"
        for tick in xAxis.ticks {
            let x = coordinate(px(tick.value))
            out += "<line x1=\"\(x)\" y1=\"\(coordinate(top))\" x2=\"\(x)\" y2=\"\(coordinate(bottom))\" stroke=\"#e5e5e5\"/>"
            out += "<line x1=\"\(x)\" y1=\"\(coordinate(bottom))\" x2=\"\(x)\" y2=\"\(coordinate(bottom + 5))\" stroke=\"black\"/>"
            out += "<text x=\"\(x)\" y=\"\(coordinate(bottom + 18))\">\(xmlEscaped(tick.label))</text>\n"
        }
        out += "</g>\n<g class=\"y-ticks\" font-size=\"11\" text-anchor=\"end\">\n"
        for tick in yAxis.ticks {
            let y = coordinate(py(tick.value))
            out += "<line x1=\"\(coordinate(left))\" y1=\"\(y)\" x2=\"\(coordinate(right))\" y2=\"\(y)\" stroke=\"#e5e5e5\"/>"
            out += "<line x1=\"\(coordinate(left - 5))\" y1=\"\(y)\" x2=\"\(coordinate(left))\" y2=\"\(y)\" stroke=\"black\"/>"
            out += "<text x=\"\(coordinate(left - 8))\" y=\"\(y)\" dy=\"0.35em\">\(xmlEscaped(tick.label))</text>\n"
        }
        out += "</g>\n"
        out += "<rect x=\"\(coordinate(left))\" y=\"\(coordinate(top))\" width=\"\(coordinate(plotWidth))\" height=\"\(coordinate(plotHeight))\" "
            + "fill=\"none\" stroke=\"black\"/>\n"
        if !xLabel.isEmpty {
            out += "<text class=\"x-label\" x=\"\(coordinate(left + plotWidth / 2))\" y=\"\(coordinate(height - 12))\" text-anchor=\"middle\" "
                + "font-size=\"13\">\(xmlEscaped(xLabel))</text>\n"
        }
        if !yLabel.isEmpty {
            let cx = 16.0, cy = top + plotHeight / 2
            out += "<text class=\"y-label\" x=\"\(coordinate(cx))\" y=\"\(coordinate(cy))\" text-anchor=\"middle\" font-size=\"13\" "
                + "transform=\"rotate(-90 \(coordinate(cx)) \(coordinate(cy)))\">\(xmlEscaped(yLabel))</text>\n"
        }
        if all.isEmpty {
            out += "<text class=\"empty\" x=\"\(coordinate(left + plotWidth / 2))\" y=\"\(coordinate(top + plotHeight / 2))\" "
                + "text-anchor=\"middle\" font-size=\"14\" fill=\"#555555\">\(xmlEscaped(emptyMessage))</text>\n"
        }
        // The curves.
        for (index, item) in series.enumerated() {
            let style = stroke(index)
            out += "<g class=\"series\" data-name=\"\(xmlEscaped(item.name))\"><title>\(xmlEscaped(item.name))</title>\n"
            let points = drawable[index]
            if !points.isEmpty {
                var coordinates = ""
                coordinates.reserveCapacity(points.count * 16)
                for (i, point) in points.enumerated() {
                    if i > 0 { coordinates += " " }
                    coordinates += coordinate(px(point.x)) + "," + coordinate(py(point.y))
                }
                out += "<polyline fill=\"none\" \(style) stroke-linejoin=\"round\" points=\"\(coordinates)\"/>\n"
            }
            if points.count == 1 {
                out += "<circle cx=\"\(coordinate(px(points[0].x)))\" cy=\"\(coordinate(py(points[0].y)))\" r=\"3\" fill=\"\(Self.colors[index % Self.colors.count])\"/>\n"
            }
            out += "</g>\n"
        }
        // The legend, to the right of the plot.
        if !series.isEmpty {
            out += "<g class=\"legend\" font-size=\"12\">\n"
            for (index, item) in series.enumerated() {
                let y = top + 10 + 20 * Double(index), x = right + 14
                out += "<line x1=\"\(coordinate(x))\" y1=\"\(coordinate(y))\" x2=\"\(coordinate(x + 26))\" y2=\"\(coordinate(y))\" \(stroke(index))/>"
                out += "<text x=\"\(coordinate(x + 32))\" y=\"\(coordinate(y))\" dy=\"0.35em\">\(xmlEscaped(item.name))</text>\n"
            }
            out += "</g>\n"
        }
        return out
    }

    /// The stroke attributes of series `index`: colour, width and dash pattern.
    private func stroke(_ index: Int) -> String {
        var style = "stroke=\"\(Self.colors[index % Self.colors.count])\" stroke-width=\"1.8\""
        if let dash = Self.dashes[index % Self.dashes.count] { style += " stroke-dasharray=\"\(dash)\"" }
        return style
    }
}

/// Whole SVG files: one chart, or several stacked vertically.
enum SVGDocument {
    /// One document holding `charts` one above the other, each `width` × `chartHeight`.
    /// Their plots share one width, so the x axes line up.
    static func stacked(_ charts: [LineChart], width: Int = 800, chartHeight: Int = 400) -> String {
        let legendWidth = charts.map { $0.legendWidth(chartWidth: Double(width)) }.max() ?? 0
        var body = ""
        for (index, chart) in charts.enumerated() {
            body += "<g class=\"chart\" transform=\"translate(0 \(index * chartHeight))\">\n"
            body += chart.body(width: Double(width), height: Double(chartHeight), legendWidth: legendWidth)
            body += "</g>\n"
        }
        return standalone(width: width, height: max(chartHeight * charts.count, 1), body: body)
    }

    /// Writes `charts` stacked vertically into one SVG file.
    static func write(_ charts: [LineChart], to path: String, width: Int = 800, chartHeight: Int = 400) throws {
        try stacked(charts, width: width, chartHeight: chartHeight).write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// An SVG document of the given size around `body`.
    static func standalone(width: Int, height: Int, body: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + element(width: width, height: height, body: body)
    }

    /// The `<svg>` element alone, as an HTML or XHTML page embeds it.
    static func element(width: Int, height: Int, body: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" "
            + "viewBox=\"0 0 \(width) \(height)\" font-family=\"Helvetica, Arial, sans-serif\">\n"
            + body + "</svg>\n"
    }
}

/// An axis range with its ticks, linear or base-10 logarithmic.
struct Axis {
    struct Tick {
        var value: Double
        var label: String
    }

    /// The ends of the axis (on a log axis, the powers of ten at the ends).
    var lower: Double
    var upper: Double
    var logarithmic: Bool
    var ticks: [Tick]

    /// Where `value` falls between the ends, 0 at `lower` and 1 at `upper`.
    func fraction(_ value: Double) -> Double {
        if logarithmic { return (log10(value) - log10(lower)) / (log10(upper) - log10(lower)) }
        return (value - lower) / (upper - lower)
    }

    /// A linear axis covering `values` (finite ones), its ends rounded out to a nice tick step of at
    /// least `minimumStep`.
    static func linear(values: [Double], targetTicks: Int, minimumStep: Double = 0) -> Axis {
        var low = values.min() ?? 0, high = values.max() ?? 1
        if low == high {
            let spread = low == 0 ? 1 : abs(low) * 0.1
            low -= spread
            high += spread
        }
        // Beyond ±1e300 the range would overflow; such data cannot be told apart on a chart anyway.
        low = max(low, -1e300)
        high = min(high, 1e300)
        let step = max(niceStep((high - low) / Double(max(targetTicks, 1))), minimumStep)
        let first = (low / step).rounded(.down), last = (high / step).rounded(.up)
        let lower = first * step, upper = last * step
        let count = min(Int(last - first), 100)
        let decimals = max(0, -Int(log10(step).rounded(.down)))
        let ticks = (0...count).map { k -> Tick in
            var value = (first + Double(k)) * step
            if abs(value) < step * 1e-9 { value = 0 }
            return Tick(value: value, label: tickLabel(value, decimals: decimals))
        }
        return Axis(lower: lower, upper: upper, logarithmic: false, ticks: ticks)
    }

    /// A base-10 log axis covering the positive `values`, its ends at powers of ten.
    static func logarithmic(values: [Double]) -> Axis {
        let positive = values.filter { $0 > 0 }
        var low = (log10(positive.min() ?? 1)).rounded(.down), high = (log10(positive.max() ?? 10)).rounded(.up)
        if low == high {
            low -= 1
            high += 1
        }
        let decades = Int(high - low)
        let every = max(1, (decades + 7) / 8)
        var ticks: [Tick] = []
        var exponent = Int(low)
        while exponent <= Int(high) {
            let value = pow(10, Double(exponent))
            ticks.append(Tick(value: value, label: (-4...5).contains(exponent) ? tickLabel(value, decimals: max(0, -exponent)) : "1e\(exponent)"))
            exponent += every
        }
        return Axis(lower: pow(10, low), upper: pow(10, high), logarithmic: true, ticks: ticks)
    }

    /// The smallest of 1, 2, 5 or 10 × 10^k that is at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = pow(10, log10(raw).rounded(.down))
        let residual = raw / magnitude
        let factor: Double = residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10
        return factor * magnitude
    }

    /// A tick value with a fixed number of decimals, or in exponent form when very large or small.
    static func tickLabel(_ value: Double, decimals: Int) -> String {
        if value != 0 && (abs(value) >= 1e7 || decimals > 8) { return String(format: "%g", value) }
        return String(format: "%.\(decimals)f", value)
    }
}

/// `text` safe inside XML character data and attribute values: markup characters escaped and the
/// control characters XML 1.0 forbids dropped.
func xmlEscaped(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
        default:
            if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF { continue }
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// A coordinate with at most two decimals.
private func coordinate(_ value: Double) -> String {
    String(format: "%.2f", value)
}
