import Foundation
import Testing

/// A report page parsed, with lookups by chart.
struct ReportPageXML {
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
func expectSelfContained(_ page: ReportPageXML) {
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
