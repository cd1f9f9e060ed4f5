import CZlib
import Foundation

/// A fresh temporary folder for one test, removed by `remove()`.
struct TemporaryFolder {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("datasets-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ bytes: [UInt8], gzip: Bool = false) throws {
        if gzip {
            guard let handle = gzopen(file(name), "wb") else { throw CocoaError(.fileWriteUnknown) }
            _ = bytes.withUnsafeBytes { gzwrite(handle, $0.baseAddress, UInt32($0.count)) }
            gzclose(handle)
        } else {
            try Data(bytes).write(to: URL(fileURLWithPath: file(name)))
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The bytes of an IDX file of unsigned bytes with the given dimensions and contents.
func idxBytes(dimensions: [Int], body: [UInt8], type: UInt8 = 0x08) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, type, UInt8(dimensions.count)]
    for d in dimensions { bytes += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
    return bytes + body
}

/// Writes a small valid MNIST-style split (`count` images of rows×columns) into `folder`.
func writeSplit(_ folder: TemporaryFolder, prefix: String, count: Int, rows: Int = 4, columns: Int = 4,
                labelCount: Int? = nil, gzip: Bool = false) throws {
    let pixels = (0..<count * rows * columns).map { UInt8($0 % 256) }
    let labels = (0..<(labelCount ?? count)).map { UInt8($0 % 10) }
    let suffix = gzip ? ".gz" : ""
    try folder.write("\(prefix)-images-idx3-ubyte\(suffix)", idxBytes(dimensions: [count, rows, columns], body: pixels), gzip: gzip)
    try folder.write("\(prefix)-labels-idx1-ubyte\(suffix)", idxBytes(dimensions: [labelCount ?? count], body: labels), gzip: gzip)
}

/// The shared data folder ($TRAINER_DATA_DIR), if it holds the named sub-folder.
func sharedDataFolder(_ subfolder: String) -> String? {
    guard let root = ProcessInfo.processInfo.environment["TRAINER_DATA_DIR"], !root.isEmpty else { return nil }
    let folder = root + "/" + subfolder
    return FileManager.default.fileExists(atPath: folder) ? folder : nil
}
