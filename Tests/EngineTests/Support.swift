import Foundation
import Testing
@testable import Engine

/// Tests/EngineTests/Fixtures, found from this file's path (the fixtures are not SwiftPM resources).
let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The path of a committed fixture file.
func fixturePath(_ name: String) -> String {
    fixturesDirectory.appendingPathComponent(name).path
}

/// Decodes a JSON fixture written by scripts/make_fixtures.py (snake_case keys become camelCase).
func loadJSONFixture<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent(name))
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(T.self, from: data)
}

/// Numbers in the JSON fixtures are exact float32 values written as doubles: decode as Double, round once.
func floats(_ values: [Double]) -> [Float] { values.map { Float($0) } }

/// The reproducible starting values shared with scripts/make_fixtures.py:
/// u = ((i · 2654435761 + k · 97531 + 12345) mod 2³²) / 2³², value = Float((u − 0.5) · scale).
func formulaValues(k: Int, count: Int, scale: Double) -> [Float] {
    (0..<count).map { i in
        let n = (UInt64(i) &* 2_654_435_761 &+ UInt64(k) &* 97_531 &+ 12_345) & 0xFFFF_FFFF
        let u = Double(n) / 4_294_967_296
        return Float((u - 0.5) * scale)
    }
}

/// The largest |a − b| over two equally long sequences.
func maxAbsDifference(_ a: some Collection<Float>, _ b: some Collection<Float>) -> Float {
    precondition(a.count == b.count, "lengths \(a.count) and \(b.count) differ")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// The largest |a|.
func maxAbs(_ a: some Collection<Float>) -> Float {
    a.reduce(0) { max($0, abs($1)) }
}

/// Prints a measured discrepancy when ENGINE_TESTS_VERBOSE is set (used to report how close we are).
func reportDifference(_ label: String, _ value: Float) {
    if ProcessInfo.processInfo.environment["ENGINE_TESTS_VERBOSE"] != nil {
        print("[EngineTests] \(label): \(value)")
    }
}

/// A fresh path under the temporary directory; the file (if any) is removed after `body`.
func withTemporaryPath<R>(_ suffix: String = ".safetensors", _ body: (String) throws -> R) throws -> R {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("EngineTests-\(UUID().uuidString)\(suffix)").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Uniform random floats in [low, high) from a seeded generator.
func randomFloats(_ count: Int, in range: ClosedRange<Float>, seed: UInt64) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in range.lowerBound + (range.upperBound - range.lowerBound) * generator.nextUnitFloat() }
}

/// Expects `actual` within `absolute + relative·|expected|` of `expected`, element by element.
func expectElementsClose(_ actual: [Float], _ expected: [Float], relative: Float, absolute: Float, _ what: String,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    for (index, (a, e)) in zip(actual, expected).enumerated() where !(abs(a - e) <= absolute + relative * abs(e)) {
        Issue.record("\(what)[\(index)]: \(a), expected \(e)", sourceLocation: sourceLocation)
        return
    }
}

extension Model {
    // Copies of named buffers: a buffer pointer taken from a model does not keep the model alive
    // (see `Model.parameterValues`). Inside these members `self` is alive.

    /// A copy of one named parameter.
    func parameterValues(named name: String) -> [Float]? { parameter(named: name).map { Array($0) } }
    /// A copy of one named gradient.
    func gradientValues(named name: String) -> [Float]? { gradient(named: name).map { Array($0) } }
}
