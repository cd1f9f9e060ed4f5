import Foundation
import Testing
import TestSupport
@testable import Engine

/// Checkpoints: round trips, the byte layout the safetensors format prescribes, and corrupt files that
/// must give a CheckpointError naming the file, never a crash.
@Suite("Safetensors", .blocking)
struct SafetensorsTests {
    // MARK: Round trips

    @Test func modelRoundTrip() throws {
        try withTemporaryPath { path in
            let saved = Model(Models.mlp(), seed: 1)
            try saved.save(to: path)
            let loaded = Model(Models.mlp(), seed: 2)
            #expect(loaded.parameterValues != saved.parameterValues)
            try loaded.load(from: path)
            #expect(loaded.parameterValues.map(\.bitPattern) == saved.parameterValues.map(\.bitPattern))
        }
    }

    @Test func writeAndReadKeepOrderMetadataAndEveryBitPattern() throws {
        let special: [Float] = [0, -0.0, 1, -1, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                                Float(bitPattern: 0x7FC0_1234), 3.14159]
        let second: [Float] = [42]
        try withTemporaryPath { path in
            try special.withUnsafeBufferPointer { a in
                try second.withUnsafeBufferPointer { b in
                    try Safetensors.write([("z.first", [2, 5], a), ("a.second", [], b)],
                                          metadata: ["format": "pt", "quote\"d": "line\nbreak"], to: path)
                }
            }
            let file = try Safetensors.read(from: path)
            #expect(file.order == ["z.first", "a.second"])
            #expect(file.metadata == ["format": "pt", "quote\"d": "line\nbreak"])
            #expect(file.tensors["z.first"]?.shape == [2, 5])
            #expect(file.tensors["z.first"]?.values.map(\.bitPattern) == special.map(\.bitPattern))
            #expect(file.tensors["a.second"] == StoredTensor(shape: [], values: [42]))
        }
    }

    @Test func emptyTensorRoundTrip() throws {
        let empty: [Float] = []
        try withTemporaryPath { path in
            try empty.withUnsafeBufferPointer { try Safetensors.write([("nothing", [0, 3], $0)], to: path) }
            #expect(try Safetensors.read(from: path).tensors["nothing"] == StoredTensor(shape: [0, 3], values: []))
        }
    }

    // MARK: Byte layout

    /// 8-byte little-endian header length, a JSON header padded with spaces to a multiple of 8, then the
    /// raw little-endian float32 data of every tensor, contiguous and in state_dict order.
    @Test func byteLayoutFollowsTheSpecification() throws {
        let model = Model(Models.mlp(), seed: 3)
        let bytes = try withTemporaryPath { path in
            try model.save(to: path, metadata: ["epoch": "3"])
            return try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        }
        let headerLength = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        #expect(headerLength % 8 == 0)
        #expect(bytes.count == 8 + headerLength + 4 * model.parameterCount)
        #expect(bytes.count == 8 + headerLength + 4 * 109_386)
        let headerBytes = bytes[8..<8 + headerLength]
        #expect(headerBytes.first == UInt8(ascii: "{"))
        let trimmed = headerBytes.reversed().drop { $0 == 0x20 }
        #expect(trimmed.first == UInt8(ascii: "}"), "header padding must be spaces after the JSON object")
        #expect(headerLength - trimmed.count < 8)

        let json = try #require(try JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any])
        #expect(json["__metadata__"] as? [String: String] == ["epoch": "3"])
        #expect(Set(json.keys) == Set(model.views.map(\.name) + ["__metadata__"]))
        for view in model.views {
            let entry = try #require(json[view.name] as? [String: Any])
            #expect(entry["dtype"] as? String == "F32")
            #expect(entry["shape"] as? [Int] == view.shape)
            #expect(entry["data_offsets"] as? [Int] == [4 * view.offset, 4 * (view.offset + view.count)])
        }
        let parameters = model.parameterValues
        let data = bytes[(8 + headerLength)...]
        for index in [0, 1, 100_351, 100_352, 109_385] {
            let start = data.startIndex + 4 * index
            let bits = data[start..<start + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(Float(bitPattern: bits) == parameters[index])
        }
    }

    // MARK: Corrupt files

    /// A hand-made file: the 8-byte length (the real one unless given), the header, the body.
    static func file(header: String, body: [UInt8], declaredLength: UInt64? = nil) -> Data {
        let headerBytes = Array(header.utf8)
        var data = Data()
        withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: headerBytes)
        data.append(contentsOf: body)
        return data
    }

    static let twoFloats: [UInt8] = [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]  // 1.0, 2.0

    /// Writes `data`, reads it back, and expects a CheckpointError that names the file and contains `reason`.
    func expectCheckpointError(_ data: Data, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try withTemporaryPath { path in
            try data.write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: CheckpointError.self, sourceLocation: sourceLocation) {
                try Safetensors.read(from: path)
            }
            #expect(error?.path == path, sourceLocation: sourceLocation)
            #expect(error?.description.contains(path) == true, sourceLocation: sourceLocation)
            #expect(error?.reason.contains(reason) == true, "reason was: \(error?.reason ?? "none")",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func wellFormedHandMadeFileReads() throws {
        // The baseline the corrupt cases below break one thing at a time.
        try withTemporaryPath { path in
            try Self.file(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, body: Self.twoFloats)
                .write(to: URL(fileURLWithPath: path))
            #expect(try Safetensors.read(from: path).tensors["t"] == StoredTensor(shape: [2], values: [1, 2]))
        }
    }

    @Test func missingFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("EngineTests-\(UUID().uuidString)").path
        let error = #expect(throws: CheckpointError.self) { try Safetensors.read(from: path) }
        #expect(error?.reason == "no such file")
        #expect(throws: CheckpointError.self) { try Model(Models.mlp()).load(from: path) }
    }

    @Test func truncatedFiles() throws {
        let valid = try withTemporaryPath { path in
            try Model(Models.perceptron(inputs: 4, outputs: 2)).save(to: path)
            return try Data(contentsOf: URL(fileURLWithPath: path))
        }
        try expectCheckpointError(valid.prefix(valid.count - 4), "data_offsets")  // last tensor cut short
        try expectCheckpointError(valid.prefix(20), "header length")  // inside the header
        try expectCheckpointError(valid.prefix(5), "too short")
        try expectCheckpointError(Data(), "too short")
    }

    @Test func headerLengthBeyondTheFile() throws {
        let header = #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        try expectCheckpointError(Self.file(header: header, body: Self.twoFloats, declaredLength: 1000), "header length")
        try expectCheckpointError(Self.file(header: header, body: Self.twoFloats, declaredLength: .max), "header length")
        try expectCheckpointError(Self.file(header: header, body: Self.twoFloats, declaredLength: 1 << 63), "header length")
    }

    @Test func headerIsNotAJSONObject() throws {
        try expectCheckpointError(Self.file(header: "not json at all!", body: []), "not a JSON object")
        try expectCheckpointError(Self.file(header: "[1, 2, 3]", body: []), "not a JSON object")
        try expectCheckpointError(Self.file(header: #"{"t":[1,2]}"#, body: []), "not an object")
        try expectCheckpointError(Self.file(header: #"{"__metadata__":{"a":1}}"#, body: []), "__metadata__")
    }

    @Test func wrongDtype() throws {
        try expectCheckpointError(Self.file(header: #"{"t":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}"#,
                                            body: Self.twoFloats), "dtype F16")
        try expectCheckpointError(Self.file(header: #"{"t":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#,
                                            body: Self.twoFloats), "only F32")
        try expectCheckpointError(Self.file(header: #"{"t":{"shape":[2],"data_offsets":[0,8]}}"#,
                                            body: Self.twoFloats), "no dtype")
    }

    @Test func offsetsOutOfRange() throws {
        for offsets in ["[0,16]", "[-4,4]", "[8,0]", "[0]", "[0,4,8]", "\"0,8\""] {
            try expectCheckpointError(
                Self.file(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":\#(offsets)}}"#, body: Self.twoFloats),
                "data_offsets")
        }
    }

    @Test func shapeAndOffsetsDisagree() throws {
        try expectCheckpointError(Self.file(header: #"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                                            body: Self.twoFloats), "needs 12 bytes")
        try expectCheckpointError(Self.file(header: #"{"t":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}}"#,
                                            body: Self.twoFloats), "shape")
        try expectCheckpointError(Self.file(header: #"{"t":{"dtype":"F32","data_offsets":[0,8]}}"#,
                                            body: Self.twoFloats), "shape")
    }

    @Test func shapesWhoseSizeOverflows() throws {
        // 2^62 · 4 elements overflow Int: must be rejected, not trap.
        try expectCheckpointError(
            Self.file(header: #"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#,
                      body: Self.twoFloats), "shape")
        try expectCheckpointError(
            Self.file(header: #"{"t":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,8]}}"#,
                      body: Self.twoFloats), "shape")
    }

    @Test func numbersBeyondInt() throws {
        for (shape, offsets) in [("[1e300]", "[0,8]"), ("[2]", "[0,1e300]"), ("[2]", "[0,18446744073709551616]"),
                                 ("[18446744073709551617]", "[0,8]"), ("[2]", "[-1e300,8]"), ("[-1e300]", "[0,8]")] {
            try withTemporaryPath { path in
                try Self.file(header: #"{"t":{"dtype":"F32","shape":\#(shape),"data_offsets":\#(offsets)}}"#,
                              body: Self.twoFloats).write(to: URL(fileURLWithPath: path))
                #expect(throws: CheckpointError.self, "shape \(shape), data_offsets \(offsets)") {
                    try Safetensors.read(from: path)
                }
            }
        }
    }

    @Test func dataOverlapsOrLeavesBytesUnclaimed() throws {
        let overlapping = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        try expectCheckpointError(Self.file(header: overlapping, body: Self.twoFloats), "overlaps")
        let gap = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        try expectCheckpointError(Self.file(header: gap, body: Self.twoFloats), "gap")
        let trailing = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        try expectCheckpointError(Self.file(header: trailing, body: Self.twoFloats), "no tensor claims")
    }

    // MARK: Loading into a model

    @Test func loadReportsAMissingTensor() throws {
        try withTemporaryPath { path in
            try Model(Models.perceptron(inputs: 784, outputs: 10)).save(to: path)
            let model = Model(Models.mlp())
            let error = #expect(throws: CheckpointError.self) { try model.load(from: path) }
            #expect(error?.reason.contains("no tensor fc1.bias") == true, "reason was: \(error?.reason ?? "none")")
        }
    }

    @Test func loadReportsAnUnexpectedTensor() throws {
        try withTemporaryPath { path in
            try Model(Models.mlp()).save(to: path)
            let model = Model(Sequential([("fc1", Linear(784, 128))]))
            let error = #expect(throws: CheckpointError.self) { try model.load(from: path) }
            #expect(error?.reason.contains("unexpected tensor fc2.bias") == true, "reason was: \(error?.reason ?? "none")")
        }
    }

    @Test func loadReportsAWrongShapeAndChangesNothing() throws {
        try withTemporaryPath { path in
            try Model(Models.mlp(hidden: (128, 32)), seed: 4).save(to: path)
            let model = Model(Models.mlp(), seed: 5)
            let before = model.parameterValues
            let error = #expect(throws: CheckpointError.self) { try model.load(from: path) }
            #expect(error?.reason.contains("fc2.weight has shape [32, 128], the model expects [64, 128]") == true,
                    "reason was: \(error?.reason ?? "none")")
            #expect(model.parameterValues == before, "a failed load must leave the parameters untouched")
        }
    }

    @Test func loadReportsACorruptFile() throws {
        try withTemporaryPath { path in
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
            #expect(throws: CheckpointError.self) { try Model(Models.mlp()).load(from: path) }
        }
    }

    @Test func writeToAnImpossiblePathThrows() {
        let values: [Float] = [1]
        let path = "/nonexistent-directory-\(UUID().uuidString)/model.safetensors"
        #expect(throws: CheckpointError.self) {
            try values.withUnsafeBufferPointer { try Safetensors.write([("x", [1], $0)], to: path) }
        }
    }
}
