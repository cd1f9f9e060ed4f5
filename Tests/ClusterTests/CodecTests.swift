import Engine
import Testing
@testable import Cluster

/// The codecs of compressed frames: round trips, rounding, sparse frames that lie, error feedback.
@Suite struct CodecTests {
    private func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in (generator.nextUnitFloat() * 2 - 1) * scale }
    }

    @Test func denseIsBitExactForEveryPattern() throws {
        let patterns = SharedFloats(count: 1000)
        let values = Array(patterns.floats)
        let codec = DenseCodec()
        let bytes = codec.encode(values)
        #expect(bytes.count == 4000)
        #expect(try codec.decode(bytes, count: 1000).map(\.bitPattern) == values.map(\.bitPattern))
        #expect(throws: CodecError.size(codec: "none", bytes: 4000, expected: "4004 (1001 floats)")) { try codec.decode(bytes, count: 1001) }
    }

    @Test func bfloat16RoundsToNearestEven() throws {
        let codec = BFloat16Codec()
        #expect(BFloat16Codec.bits(1) == 0x3F80)
        #expect(BFloat16Codec.bits(Float(bitPattern: 0x3F80_8000)) == 0x3F80, "a tie goes to the even neighbour")
        #expect(BFloat16Codec.bits(Float(bitPattern: 0x3F81_8000)) == 0x3F82, "a tie goes to the even neighbour")
        #expect(BFloat16Codec.bits(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(BFloat16Codec.bits(.infinity) == 0x7F80 && BFloat16Codec.bits(-.infinity) == 0xFF80)
        #expect(BFloat16Codec.bits(.greatestFiniteMagnitude) == 0x7F80, "beyond bfloat16's largest finite value rounds to infinity")
        let nan = try codec.decode(codec.encode([.nan, Float(bitPattern: 0x7F80_0001)]), count: 2)
        #expect(nan.allSatisfy { $0.isNaN }, "a NaN, signalling or not, stays a NaN")
        let values = random(10_000, seed: 3, scale: 100)
        let decoded = try codec.decode(codec.encode(values), count: values.count)
        #expect(codec.encode(values).count == 20_000)
        for (value, back) in zip(values, decoded) where value.isNormal {
            #expect(abs(back - value) <= abs(value) * 0x1p-8, "\(value) came back as \(back)")
        }
    }

    @Test func float16KeepsElevenBitsAndItsRange() throws {
        let codec = Float16Codec()
        let special: [Float] = [65504, 70000, -70000, 1e-8, 0, -0.0, .infinity]
        let back = try codec.decode(codec.encode(special), count: special.count)
        #expect(back[0] == 65504 && back[1] == 65504 && back[2] == -65504, "a finite value beyond the range is sent as the largest half")
        #expect(back[3] < 1e-7 && back[3] >= 0 && back[4] == 0 && back[5].sign == .minus && back[6] == .infinity)
        let values = random(10_000, seed: 4, scale: 10)
        let decoded = try codec.decode(codec.encode(values), count: values.count)
        for (value, back) in zip(values, decoded) where abs(value) > 6.2e-5 {
            #expect(abs(back - value) <= abs(value) * 0x1p-11, "\(value) came back as \(back)")
        }
        #expect(throws: CodecError.self) { try codec.decode([1, 2, 3], count: 2) }
    }

    @Test func topKKeepsTheLargestMagnitudesWithTheLowestIndexOnTies() throws {
        let values: [Float] = [0.5, -3, 2, 0, -2, 1, 3, 0.1]
        let codec = TopKCodec(fraction: 0.375)  // 3 of 8
        #expect(codec.keptCount(of: 8) == 3 && codec.keptCount(of: 1) == 1 && codec.keptCount(of: 0) == 0)
        let bytes = codec.encode(values)
        #expect(bytes.count == 4 + 8 * 3)
        #expect(try codec.decode(bytes, count: 8) == [0, -3, 2, 0, 0, 0, 3, 0], "−3 and 3, then 2 before −2")
        #expect(try TopKCodec(fraction: 1).decode(TopKCodec(fraction: 1).encode(values), count: 8) == values)
        let withNaN: [Float] = [.nan, 1, 2]
        #expect(withNaN.withUnsafeBufferPointer { TopKCodec.largest(2, of: $0) } == [0, 2], "a NaN is sent, not hidden")
    }

    @Test func aTopKFrameThatLiesIsRefused() throws {
        let codec = TopKCodec(fraction: 0.5)
        func frame(_ k: UInt32, _ indices: [UInt32], _ values: [Float]) -> [UInt8] {
            var writer = ByteWriter(capacity: 64)
            writer.append(k)
            for index in indices { writer.append(index) }
            for value in values { writer.append(value.bitPattern) }
            return writer.bytes
        }
        #expect(throws: CodecError.tooManyValues(codec: codec.name, count: 5, limit: 4)) { try codec.decode(frame(5, [0, 1, 2, 3, 4], [1, 1, 1, 1, 1]), count: 4) }
        #expect(throws: CodecError.size(codec: codec.name, bytes: 16, expected: "20 (2 indices and values)")) { try codec.decode(frame(2, [0, 1], [1]), count: 4) }
        #expect(throws: CodecError.badIndex(codec: codec.name, position: 1, index: 1, count: 4)) { try codec.decode(frame(2, [1, 1], [1, 1]), count: 4) }
        #expect(throws: CodecError.badIndex(codec: codec.name, position: 1, index: 4, count: 4)) { try codec.decode(frame(2, [0, 4], [1, 1]), count: 4) }
        #expect(throws: CodecError.self) { try codec.decode([1, 0], count: 4) }
        #expect(try codec.decode(frame(0, [], []), count: 4) == [0, 0, 0, 0])
    }

    @Test func selectionAgreesWithSorting() {
        var generator = SeededGenerator(seed: 8)
        for run in 0..<200 {
            let count = 1 + Int(generator.next() % 300)
            // Few distinct values in half the runs, so ties are common.
            var values = (0..<count).map { _ in run % 2 == 0 ? Float(generator.next() % 5) : generator.nextUnitFloat() }
            let sorted = values.sorted(by: >)
            let rank = Int(generator.next() % UInt64(count))
            #expect(TopKCodec.select(rank, inDescending: &values) == sorted[rank], "run \(run): rank \(rank) of \(count)")
        }
    }

    @Test func errorFeedbackLosesNothing() throws {
        let count = 500
        for codec in [BFloat16Codec(), Float16Codec(), TopKCodec(fraction: 0.05), DenseCodec()] as [any Codec] {
            let feedback = ErrorFeedback(codec: codec, count: count)
            var sent = [Double](repeating: 0, count: count), given = [Double](repeating: 0, count: count)
            for step in 0..<40 {
                let values = random(count, seed: 100 + UInt64(step), scale: 0.01)
                let (bytes, decoded) = values.withUnsafeBufferPointer { feedback.encode($0) }
                #expect(try codec.decode(bytes, count: count) == decoded, "\(codec.name): the receiver decodes what the sender counted")
                for index in 0..<count {
                    given[index] += Double(values[index])
                    sent[index] += Double(decoded[index])
                }
            }
            let worst = (0..<count).map { abs(sent[$0] + Double(feedback.residual[$0]) - given[$0]) }.max() ?? 0
            #expect(worst < 1e-5, "\(codec.name): sent + residual differs from the inputs by \(worst)")
            if codec.isLossless { #expect(feedback.residual.allSatisfy { $0 == 0 }) }
        }
    }

    /// A finite gradient beyond binary16's range reaches the receiver in full over later frames, and
    /// a non-finite one (which the server rejects) leaves no residual that would spoil the next frames.
    @Test func errorFeedbackSurvivesOverflowAndNonFiniteValues() {
        let feedback = ErrorFeedback(codec: Float16Codec(), count: 3)
        var sent: [Double] = [0, 0, 0]
        for step in 0..<20 {
            let values: [Float] = step == 0 ? [1e6, 1, .nan] : [0, 1, 1]
            let (_, decoded) = values.withUnsafeBufferPointer { feedback.encode($0) }
            if step == 0 { #expect(decoded[0] == 65504 && decoded[2].isNaN) }
            for index in 0..<3 where decoded[index].isFinite { sent[index] += Double(decoded[index]) }
        }
        #expect(feedback.residual.allSatisfy { $0.isFinite }, "\(feedback.residual)")
        #expect(abs(sent[0] + Double(feedback.residual[0]) - 1e6) < 1, "the overflowing value is sent in full: \(sent[0])")
        #expect(sent[1] == 20 && sent[2] == 19, "the frames after the NaN carry their values: \(sent)")
    }

    @Test func topKWithFeedbackReachesEveryCoordinate() {
        // A constant vector: without feedback the same 10 % would be sent forever.
        let feedback = ErrorFeedback(codec: TopKCodec(fraction: 0.1), count: 100)
        var reached = Set<Int>()
        let ones = [Float](repeating: 1, count: 100)
        for _ in 0..<12 {
            let (_, decoded) = ones.withUnsafeBufferPointer { feedback.encode($0) }
            reached.formUnion(decoded.indices.filter { decoded[$0] != 0 })
        }
        #expect(reached.count == 100, "only \(reached.count) of 100 coordinates were ever sent")
    }

    @Test func codecNamesParseAndBadOnesSayWhatIsAccepted() throws {
        #expect(try CodecChoice(parsing: "none") == .none)
        #expect(try CodecChoice(parsing: "bf16") == .bf16)
        #expect(try CodecChoice(parsing: "fp16") == .fp16)
        #expect(try CodecChoice(parsing: "topk:0.01") == .topK(fraction: 0.01))
        #expect(try CodecChoice(parsing: "topk:1").codec.isLossless)
        for (text, reason) in [("gzip", "unknown codec"), ("topk:0", "must lie in (0, 1]"), ("topk:1.5", "must lie in (0, 1]"),
                               ("topk:x", "not a number"), ("topk:nan", "not a number"), ("topk:-0.1", "must lie in (0, 1]")] {
            #expect(throws: CodecChoiceError.self) { try CodecChoice(parsing: text) }
            do { _ = try CodecChoice(parsing: text) } catch {
                #expect(error.description.contains(reason) && error.description.contains(CodecChoice.syntax), "\(text): \(error)")
            }
        }
    }
}
