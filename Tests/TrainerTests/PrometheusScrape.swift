import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One scrape of a `/metrics` endpoint, fetched with URLSession and parsed from the Prometheus text format.
struct PrometheusScrape {
    /// Each sample's value by its name and labels as written, e.g. `trainer_step` or `trainer_worker_step{rank="0"}`.
    let samples: [String: Double]
    /// The `# TYPE` of each metric family.
    let types: [String: String]
    /// The response's Content-Type.
    let contentType: String?

    subscript(key: String) -> Double? { samples[key] }

    /// Fetches `url` (bounded by `timeout` seconds) and parses the body; throws on a status other than 200 or a line
    /// that is not a sample, a comment or empty.
    static func fetch(_ url: URL, timeout: TimeInterval = 5) async throws -> PrometheusScrape {
        var request = URLRequest(url: url)
        request.timeoutInterval = timeout
        let (body, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse, http.statusCode == 200 else {
            throw ScrapeError(description: "\(url): \(response)")
        }
        return try PrometheusScrape(text: String(decoding: body, as: UTF8.self),
                                    contentType: http.value(forHTTPHeaderField: "Content-Type"))
    }

    init(text: String, contentType: String?) throws {
        var samples: [String: Double] = [:], types: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let fields = line.split(separator: " ")
                if fields.count == 4 { types[String(fields[2])] = String(fields[3]) }
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                throw ScrapeError(description: "not a Prometheus sample: \(line)")
            }
            samples[String(line[..<space])] = value
        }
        self.samples = samples
        self.types = types
        self.contentType = contentType
    }

    /// Scrapes `url` every 50 ms until `accept` holds, for at most `timeout` seconds (or until `running` says the
    /// process ended), and returns that scrape.
    static func until(_ url: URL, timeout: TimeInterval, running: () -> Bool,
                      _ accept: (PrometheusScrape) -> Bool) async throws -> PrometheusScrape {
        let deadline = Date().addingTimeInterval(timeout)
        var last: PrometheusScrape?
        repeat {
            let scrape = try await fetch(url)
            if accept(scrape) { return scrape }
            last = scrape
            guard running() else { break }
            try await Task.sleep(for: .milliseconds(50))
        } while Date() < deadline
        throw ScrapeError(description: "no scrape of \(url) matched within \(timeout) s; the last had \(last?.samples ?? [:])")
    }
}

struct ScrapeError: Error, CustomStringConvertible {
    let description: String
}
