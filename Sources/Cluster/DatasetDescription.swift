import Datasets
import Foundation

/// What a worker says about its data in join, so the server can refuse a worker whose data differs.
public struct DatasetDescription: Codable, Sendable, Equatable {
    /// The data-set name (for example "mnist").
    public var name: String
    /// The number of training samples the worker found.
    public var trainCount: Int
    /// The number of test samples the worker found.
    public var testCount: Int
    /// `LabeledDataset.checksum` of the training set, as 16 lowercase hexadecimal digits.
    public var checksum: String

    /// A description with every field given.
    public init(name: String, trainCount: Int, testCount: Int, checksum: String) {
        self.name = name
        self.trainCount = trainCount
        self.testCount = testCount
        self.checksum = checksum
    }

    /// The description of `trainingSet`, with `testCount` test samples beside it.
    public init(describing trainingSet: LabeledDataset, testCount: Int) {
        let hex = String(trainingSet.checksum, radix: 16)
        self.init(name: trainingSet.name, trainCount: trainingSet.count, testCount: testCount,
                  checksum: String(repeating: "0", count: 16 - hex.count) + hex)
    }

    enum CodingKeys: String, CodingKey {
        case name
        case trainCount = "train_count"
        case testCount = "test_count"
        case checksum
    }

    /// The description as compact JSON with sorted keys.
    public func encodedJSON() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain fields cannot fail.
        return (try? Array(encoder.encode(self))) ?? []
    }

    /// Decodes and range-checks a description from the JSON bytes of a join frame.
    public init(json bytes: [UInt8], limits: ProtocolLimits = .standard) throws(ProtocolError) {
        self = try decodeJSON(DatasetDescription.self, from: bytes, frame: "data-set description")
        try checkName(name, field: "data-set name")
        for (field, value) in [("train_count", trainCount), ("test_count", testCount)] {
            guard (0...limits.maxSampleCount).contains(value) else {
                throw .fieldOutOfRange(field: "data-set \(field)", value: "\(value)", allowed: "0…\(limits.maxSampleCount)")
            }
        }
        guard checksum.utf8.count == 16, checksum.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw .fieldOutOfRange(field: "data-set checksum", value: "\"\(checksum.prefix(32))\"", allowed: "16 lowercase hexadecimal digits")
        }
    }
}
