import Foundation
import Testing
import TestSupport
@testable import Engine

/// Checkpoints are written through a temporary file, fsync and rename: never half a file.
@Suite(.blocking) struct DurableFileTests {
    private func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("durable-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func writesAndReplacesLeavingNoTemporaryFile() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/model.safetensors"
        try DurableFile.write(Data([1, 2, 3]), to: path)
        try DurableFile.write(Data(repeating: 7, count: 100_000), to: path)
        #expect(FileManager.default.contents(atPath: path) == Data(repeating: 7, count: 100_000))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["model.safetensors"])
    }

    @Test func aFailedWriteNamesTheFileAndKeepsTheOldOne() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/model.safetensors"
        try DurableFile.write(Data([1, 2, 3]), to: path)
        // A directory where the file should go: the rename fails after the data was written and synced.
        let blocked = root + "/blocked"
        try FileManager.default.createDirectory(atPath: blocked + "/inside", withIntermediateDirectories: true)
        let error = #expect(throws: DurableFileError.self) { try DurableFile.write(Data([9]), to: blocked) }
        #expect(error?.description.hasPrefix("cannot write \(blocked): rename failed") == true, "\(String(describing: error))")
        #expect(FileManager.default.contents(atPath: path) == Data([1, 2, 3]))
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: root)) == ["model.safetensors", "blocked"])

        let missing = root + "/no-such-folder/model.safetensors"
        let create = #expect(throws: DurableFileError.self) { try DurableFile.write(Data([9]), to: missing) }
        #expect(create?.description.contains("No such file or directory") == true)
    }
}
