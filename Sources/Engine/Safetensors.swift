import Foundation

/// A problem with a checkpoint file, naming the file and what is wrong.
public struct CheckpointError: Error, CustomStringConvertible {
    /// The file concerned.
    public var path: String
    /// What is wrong with it.
    public var reason: String
    public var description: String { "\(path): \(reason)" }

    /// An error about `path` saying `reason`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

/// One float32 tensor read from a safetensors file.
public struct StoredTensor: Sendable, Equatable {
    /// The shape, outermost dimension first.
    public var shape: [Int]
    /// The elements in row-major order.
    public var values: [Float]
}

/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// (`dtype`, `shape`, `data_offsets` per tensor, optional `__metadata__` of strings), then raw
/// little-endian tensor bytes. Writes F32; reads F32 and I64 (PyTorch's `num_batches_tracked`), the
/// latter as Float (exact up to 2²⁴).
public enum Safetensors {
    /// The largest header accepted when reading, as the reference implementation limits it.
    public static let maximumHeaderSize = 100_000_000

    /// Writes named float32 tensors, in the given order, with string metadata, durably (see `DurableFile`).
    public static func write(_ tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)],
                             metadata: [String: String] = [:], to path: String) throws {
        var header = "{"
        var fields: [String] = []
        if !metadata.isEmpty {
            let entries = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            fields.append("\"__metadata__\":{\(entries.joined(separator: ","))}")
        }
        var offset = 0
        for tensor in tensors {
            precondition(tensor.shape.reduce(1, *) == tensor.values.count, "\(tensor.name): shape and element count differ")
            let end = offset + tensor.values.count * 4
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            fields.append("\(jsonString(tensor.name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += fields.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }

        var data = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: headerBytes)
        for tensor in tensors {
            for value in tensor.values {
                withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
            }
        }
        do {
            // Temporary file, fsync, rename: a crash leaves the previous checkpoint intact.
            try DurableFile.write(data, to: path)
        } catch let error as DurableFileError {
            throw CheckpointError(path: path, reason: "cannot write: \(error.operation) failed: \(String(cString: strerror(error.code)))")
        }
    }

    /// Reads every tensor and the metadata, checking the file against the format.
    public static func read(from path: String) throws -> (tensors: [String: StoredTensor], order: [String], metadata: [String: String]) {
        func fail(_ reason: String) -> CheckpointError { CheckpointError(path: path, reason: reason) }
        guard FileManager.default.fileExists(atPath: path) else { throw fail("no such file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot be read") }
        guard data.count >= 8 else { throw fail("too short for a safetensors file (\(data.count) bytes)") }
        let headerLength = data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(min(maximumHeaderSize, data.count - 8)) else {
            throw fail("header length \(headerLength) exceeds the file (\(data.count) bytes): truncated or not safetensors")
        }
        let headerData = data.subdata(in: 8..<8 + Int(headerLength))
        guard let json = try? JSONSerialization.jsonObject(with: headerData), let header = json as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        let body = data.subdata(in: 8 + Int(headerLength)..<data.count)
        var tensors: [String: StoredTensor] = [:]
        var extents: [(name: String, start: Int, end: Int)] = []
        var metadata: [String: String] = [:]
        for (name, entry) in header {
            if name == "__metadata__" {
                guard let strings = entry as? [String: String] else { throw fail("__metadata__ must map strings to strings") }
                metadata = strings
                continue
            }
            guard let info = entry as? [String: Any] else { throw fail("entry \(name) is not an object") }
            guard let dtype = info["dtype"] as? String else { throw fail("\(name) has no dtype") }
            guard let width = ["F32": 4, "I64": 8][dtype] else {
                throw fail("\(name) has dtype \(dtype); only F32 is supported (and I64, read as float)")
            }
            guard let shape = (info["shape"] as? [NSNumber])?.map(\.intValue), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("\(name) has no valid shape")
            }
            guard let offsets = (info["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2,
                  offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= body.count else {
                throw fail("\(name) has data_offsets outside the \(body.count)-byte data section")
            }
            // A hostile shape must not overflow Int (a trap) when its bytes are counted.
            var elements = shape.contains(0) ? 0 : 1
            for dimension in shape where elements > 0 {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                guard !overflow, product <= Int.max / 8 else { throw fail("\(name): shape \(shape) has too many elements") }
                elements = product
            }
            guard offsets[1] - offsets[0] == elements * width else {
                throw fail("\(name): shape \(shape) needs \(elements * width) bytes but data_offsets span \(offsets[1] - offsets[0])")
            }
            let values = body.withUnsafeBytes { raw in
                (0..<elements).map { index -> Float in
                    let position = offsets[0] + width * index
                    if width == 8 { return Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: Int64.self))) }
                    return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt32.self)))
                }
            }
            tensors[name] = StoredTensor(shape: shape, values: values)
            extents.append((name, offsets[0], offsets[1]))
        }
        extents.sort { ($0.start, $0.end) < ($1.start, $1.end) }
        var covered = 0
        for extent in extents {
            guard extent.start == covered else { throw fail("tensor data overlaps or leaves a gap at byte \(covered) (\(extent.name))") }
            covered = extent.end
        }
        guard covered == body.count else { throw fail("data section has \(body.count - covered) bytes no tensor claims") }
        return (tensors, extents.map(\.name), metadata)
    }

    private static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

extension Model {
    /// Writes the parameters and buffers as a safetensors file with PyTorch `state_dict` names and order.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        try Safetensors.write(stateDictViews.map { ($0.name, $0.shape, UnsafeBufferPointer(values(of: $0))) },
                              metadata: metadata, to: path)
    }

    /// Loads parameters and buffers from a safetensors file whose names and shapes match this model exactly.
    public func load(from path: String) throws {
        let file = try Safetensors.read(from: path)
        let names = stateDictViews.map(\.name)
        let expected = Set(names), found = Set(file.tensors.keys)
        if let missing = expected.subtracting(found).sorted().first {
            throw CheckpointError(path: path, reason: "no tensor \(missing) (this model has \(names.joined(separator: ", ")))")
        }
        if let extra = found.subtracting(expected).sorted().first {
            throw CheckpointError(path: path, reason: "unexpected tensor \(extra) for this model")
        }
        for view in stateDictViews {
            let stored = file.tensors[view.name]!
            guard stored.shape == view.shape else {
                throw CheckpointError(path: path, reason: "\(view.name) has shape \(stored.shape), the model expects \(view.shape)")
            }
            // Weights of a diverged run: nothing computed from them means anything.
            if let bad = stored.values.firstIndex(where: { !$0.isFinite }) {
                throw CheckpointError(path: path, reason: "\(view.name) holds \(stored.values[bad]) at index \(bad): "
                                      + "the weights of a diverged run, not a usable model")
            }
        }
        for view in stateDictViews {
            _ = values(of: view).update(from: file.tensors[view.name]!.values)
        }
    }
}
