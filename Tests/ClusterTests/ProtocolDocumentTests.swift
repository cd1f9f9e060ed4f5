import Datasets
import Engine
import Foundation
import Testing
import TestSupport
@testable import Cluster

/// docs/PROTOCOL.md's worked examples, rebuilt from the document's own words by code written here (as an
/// independent implementer would) and checked against the project's code, so the document stays enough to
/// write a worker from.
@Suite struct ProtocolDocumentTests {
    /// The "name(arguments) = value" lines of the document's worked-example block.
    private static let examples: [(call: String, value: String)] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/PROTOCOL.md")
        guard let text = try? String(contentsOf: url, encoding: .utf8),
              let start = text.range(of: "```worked-examples\n"),
              let end = text.range(of: "```", range: start.upperBound..<text.endIndex)
        else { return [] }
        return text[start.upperBound..<end.lowerBound].split(separator: "\n").compactMap { line in
            guard let equals = line.range(of: " = ") else { return nil }
            return (String(line[..<equals.lowerBound]), String(line[equals.upperBound...]).trimmingCharacters(in: .whitespaces))
        }
    }()

    /// The document's value for the example whose call starts with `prefix`.
    private func example(_ prefix: String) throws -> (call: String, value: String) {
        try #require(Self.examples.first { $0.call.hasPrefix(prefix) }, "docs/PROTOCOL.md has no worked example \(prefix)…")
    }

    /// The integers in `text`, in order.
    private func integers(in text: some StringProtocol) -> [UInt64] {
        text.split(whereSeparator: { !$0.isNumber }).compactMap { UInt64($0) }
    }

    private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    // MARK: What the document says, written again

    /// splitmix64 seeding and xoshiro256**, as "The random generator" describes them.
    private struct DocumentedGenerator {
        var s: [UInt64]
        init(seed: UInt64) {
            var x = seed
            s = (0..<4).map { _ in
                x &+= 0x9E37_79B9_7F4A_7C15
                var z = x
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
        }
        mutating func next() -> UInt64 {
            func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
            let result = rotl(s[1] &* 5, 7) &* 9
            let t = s[1] << 17
            s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]
            s[2] ^= t
            s[3] = rotl(s[3], 45)
            return result
        }
    }

    /// The epoch order: the generator seeded with seed + 0x5EED × epoch, then Fisher–Yates from the end.
    private func documentedOrder(count: Int, seed: UInt64, epoch: UInt64) -> [Int] {
        var generator = DocumentedGenerator(seed: seed &+ 0x5EED &* epoch)
        var order = Array(0..<count)
        for i in stride(from: count - 1, through: 1, by: -1) {
            order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
        }
        return order
    }

    /// FNV-1a 64 over the bytes.
    private func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
    }

    private func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian, Array.init)
    }

    /// CRC-32 as zlib computes it: reflected polynomial 0xEDB88320, initial and final value 0xFFFFFFFF.
    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    /// The data-set checksum of a classification set: FNV-1a over each label (Int32) and each target (the
    /// label as a float32's bits) as 4 little-endian bytes, then crc32 of the features' float32 bytes and
    /// the feature count, 4 bytes each.
    private func documentedChecksum(features: [Float], labels: [Int32]) -> UInt64 {
        var bytes = labels.flatMap { littleEndian($0) }
        bytes += labels.flatMap { littleEndian(Float($0).bitPattern) }
        bytes += littleEndian(crc32(features.flatMap { littleEndian($0.bitPattern) }))
        bytes += littleEndian(UInt32(truncatingIfNeeded: features.count))
        return fnv1a(bytes)
    }

    /// A pixel byte as the loaders normalise it, in float32 steps: (p / 255 − 0.5) / 0.5.
    private func normalised(_ pixel: UInt64) -> Float { (Float(pixel) / 255 - 0.5) / 0.5 }

    // MARK: The examples

    @Test func theGeneratorsFirstNumbers() throws {
        let (call, value) = try example("SeededGenerator(seed:")
        let seed = try #require(integers(in: call).first)
        var documented = DocumentedGenerator(seed: seed)
        var ours = SeededGenerator(seed: seed)
        let expected = (0..<3).map { _ in hex(documented.next()) }.joined(separator: ", ")
        #expect(value == expected, "docs/PROTOCOL.md: \(call) = \(value)")
        #expect((0..<3).map { _ in hex(ours.next()) }.joined(separator: ", ") == expected)
    }

    @Test func theEpochOrder() throws {
        let (call, value) = try example("DataLoader.order(")
        let arguments = integers(in: call)
        try #require(arguments.count == 3, "\(call)")
        let documented = documentedOrder(count: Int(arguments[0]), seed: arguments[1], epoch: arguments[2])
        #expect(value == "\(documented)", "docs/PROTOCOL.md: \(call) = \(value)")
        let ours = DataLoader.order(count: Int(arguments[0]), seed: arguments[1], epoch: Int(arguments[2])).map(Int.init)
        #expect(ours == documented)
    }

    @Test func aShardOfAStep() throws {
        let (call, value) = try example("EpochCursor(")
        let a = integers(in: call)  // count, batch, epoch, offset, slot, world size
        try #require(a.count == 6, "\(call)")
        let start = min(Int(a[3]) + Int(a[4]) * Int(a[1]), Int(a[0]))
        let documented = "\(start)..<\(min(start + Int(a[1]), Int(a[0])))"
        #expect(value == documented, "docs/PROTOCOL.md: \(call) = \(value)")
        let cursor = EpochCursor(sampleCount: Int(a[0]), batchSizePerWorker: Int(a[1]), epoch: Int(a[2]), offset: Int(a[3]))
        #expect("\(cursor.positions(slot: Int(a[4]), worldSize: Int(a[5])))" == documented)
    }

    /// A server shard's share: with count = q·S + r, every shard holds q values and the first r one more, in order.
    @Test func aServerShardsShare() throws {
        let (call, value) = try example("ShardLayout.range(")
        let a = integers(in: call)  // index (from 0), shards, count
        try #require(a.count == 3, "\(call)")
        let (index, shards, count) = (Int(a[0]), Int(a[1]), Int(a[2]))
        let (q, r) = count.quotientAndRemainder(dividingBy: shards)
        let lower = index * q + min(index, r)
        let documented = "\(lower)..<\(lower + q + (index < r ? 1 : 0))"
        #expect(value == documented, "docs/PROTOCOL.md: \(call) = \(value)")
        #expect("\(ShardLayout.range(of: index, shards: shards, count: count))" == documented)
    }

    /// "name [d0, d1, …]" pairs of a fingerprint example.
    private func parameters(in call: String) -> [(name: String, shape: [Int])] {
        let inner = call.drop { $0 != "(" }.dropFirst().dropLast()
        return inner.split(separator: "]").compactMap { part in
            let pieces = part.trimmingCharacters(in: CharacterSet(charactersIn: ", ")).split(separator: " [")
            guard pieces.count == 2 else { return nil }
            return (String(pieces[0]), pieces[1].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) })
        }
    }

    private func documentedFingerprint(_ parameters: [(name: String, shape: [Int])]) -> UInt64 {
        fnv1a(parameters.flatMap { Array($0.name.utf8) + [0] + $0.shape.flatMap { littleEndian(UInt64($0)) } })
    }

    @Test func aSmallModelsFingerprint() throws {
        let (call, value) = try example("fingerprint(fc.weight")
        let documented = documentedFingerprint(parameters(in: call))
        #expect(value == hex(documented), "docs/PROTOCOL.md: \(call) = \(value)")
        let model = Model(Sequential([("fc", Linear(2, 3) as any Layer)]))
        #expect(model.fingerprint == documented)
    }

    @Test func theMLPsFingerprint() throws {
        let (call, value) = try example("fingerprint(fc1.weight")
        let listed = parameters(in: call)
        let model = Model(Models.mlp())
        #expect(listed.map(\.name) == model.views.map(\.name), "the document lists the MLP's parameters wrongly")
        #expect(listed.map(\.shape) == model.views.map(\.shape))
        #expect(value == hex(documentedFingerprint(listed)), "docs/PROTOCOL.md: \(call) = \(value)")
        #expect(model.fingerprint == documentedFingerprint(listed))
    }

    @Test func theCRC() throws {
        let (call, value) = try example("crc32(")
        let text = try #require(call.split(separator: "\"").dropFirst().first)
        #expect(value == hex(UInt64(crc32(Array(text.utf8)))), "docs/PROTOCOL.md: \(call) = \(value)")
    }

    @Test func aSmallDataSetsChecksum() throws {
        let (call, value) = try example("checksum(pixels")
        let pixels = integers(in: call.split(separator: "]")[0])
        let labels = integers(in: call.split(separator: "labels")[1]).map { Int32($0) }
        let features = pixels.map(normalised)
        let documented = documentedChecksum(features: features, labels: labels)
        #expect(value == hex(documented), "docs/PROTOCOL.md: \(call) = \(value)")
        let set = LabeledDataset(name: "example", sampleShape: [features.count / labels.count], features: features,
                                 labels: labels, classCount: 10)
        #expect(set.checksum == documented)
    }

    /// A real training set's description follows the documented checksum; with the shared MNIST it is
    /// the join example's, word for word. Without MNIST it checks Debian's Fashion-MNIST the same way.
    @Test(.blocking) func aRealDataSetsDescription() async throws {
        let (_, value) = try example("description(mnist")
        let mnist = ProcessInfo.processInfo.environment["TRAINER_DATA_DIR"].map { $0 + "/mnist" }
        let (name, folder): (String, String)
        if let mnist, FileManager.default.fileExists(atPath: mnist) {
            (name, folder) = ("mnist", mnist)
        } else if FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist") {
            print("ProtocolDocumentTests: $TRAINER_DATA_DIR/mnist is absent: checking Fashion-MNIST's description against the "
                  + "documented checksum, not the MNIST example's value")
            (name, folder) = ("fashion-mnist", "/usr/share/datasets/fashion-mnist")
        } else {
            Issue.record("needs MNIST ($TRAINER_DATA_DIR/mnist) or Fashion-MNIST (Deploy/setup.sh installs it)")
            return
        }
        // Seconds of loading and hashing: on a thread of its own, not one of the cooperative pool's two,
        // which the socket tests running beside it need.
        let (description, documented) = try await onItsOwnThread { () throws -> (DatasetDescription, UInt64) in
            let train = try IDXDataset.load(folder: folder, split: .train, name: name)
            let test = try IDXDataset.load(folder: folder, split: .test, name: name)
            return (DatasetDescription(describing: train, testCount: test.count),
                    documentedChecksum(features: train.features, labels: train.labels))
        }
        #expect(UInt64(description.checksum, radix: 16) == documented)
        if name == "mnist" { #expect(value == String(decoding: description.encodedJSON(), as: UTF8.self)) }
    }
}

/// Runs `work` on a new thread and waits for it without holding a thread of the cooperative pool.
func onItsOwnThread<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
