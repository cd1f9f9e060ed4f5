import Foundation
import Testing
import TestSupport
@testable import Datasets

/// One ustar header block for a regular file (type "0") or folder ("5") named `name`, `size` bytes long.
func ustarHeader(_ name: String, size: Int, type: UInt8 = UInt8(ascii: "0")) -> [UInt8] {
    var block = [UInt8](repeating: 0, count: 512)
    func put(_ text: String, at offset: Int) { for (i, byte) in text.utf8.enumerated() { block[offset + i] = byte } }
    put(name, at: 0)
    put("0000644", at: 100)
    put("0000000", at: 108)
    put("0000000", at: 116)
    put(String(format: "%011o", size), at: 124)
    put("00000000000", at: 136)
    block[156] = type
    put("ustar", at: 257)
    put("00", at: 263)
    for i in 148..<156 { block[i] = 32 }
    put(String(format: "%06o", block.reduce(0) { $0 + Int($1) }) + "\0 ", at: 148)
    return block
}

/// A whole ustar archive of `(name, contents)` regular files with its two closing zero blocks.
func ustarArchive(_ files: [(String, [UInt8])]) -> [UInt8] {
    var bytes: [UInt8] = []
    for (name, contents) in files {
        bytes += ustarHeader(name, size: contents.count) + contents
        bytes += [UInt8](repeating: 0, count: (512 - contents.count % 512) % 512)
    }
    return bytes + [UInt8](repeating: 0, count: 1024)
}

@Suite(.blocking) struct TarArchiveTests {
    /// Runs the system's `tar` (for archives written by a real tool, never by the product).
    private func runTar(_ arguments: [String], in folder: String) throws {
        let tool = ChildProcess()
        tool.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tool.arguments = ["tar"] + arguments
        tool.currentDirectoryURL = URL(fileURLWithPath: folder)
        try tool.run()
        tool.waitUntilExit()
        try #require(tool.terminationStatus == 0, "tar \(arguments) failed")
    }

    /// Files of awkward sizes and a nested 150-character path (beyond the 100-byte name field: GNU tar
    /// writes an `L` record, pax a `path` record, ustar splits it into its prefix and name fields).
    private let files: [(String, [UInt8])] = [
        ("cifar-10-batches-bin/batches.meta.txt", Array("airplane\nautomobile\n".utf8)),
        ("cifar-10-batches-bin/data_batch_1.bin", (0..<3073 * 3).map { UInt8(truncatingIfNeeded: $0 * 7) }),
        ("cifar-10-batches-bin/empty.bin", []),
        ("cifar-10-batches-bin/exact.bin", [UInt8](repeating: 9, count: 1024)),
        ("cifar-10-batches-bin/" + String(repeating: "d", count: 60) + "/" + String(repeating: "n", count: 60) + ".bin",
         Array("long name".utf8)),
    ]

    @Test(arguments: ["gnu", "ustar", "pax"])
    func archivesWrittenByTarAreExtracted(format: String) throws {
        let source = try TemporaryFolder(), destination = try TemporaryFolder()
        defer { source.remove(); destination.remove() }
        for (name, contents) in files {
            try FileManager.default.createDirectory(atPath: source.file((name as NSString).deletingLastPathComponent),
                                                    withIntermediateDirectories: true)
            try source.write(name, contents)
        }
        try runTar(["--format=\(format)", "-czf", "archive.tar.gz", "cifar-10-batches-bin"], in: source.path)
        let written = try TarArchive.extract(source.file("archive.tar.gz"), into: destination.path)
        #expect(Set(written) == Set(files.map(\.0)))
        for (name, contents) in files {
            #expect(try Data(contentsOf: URL(fileURLWithPath: destination.file(name))) == Data(contents), "\(name)")
        }
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: destination.path).filter { $0.contains(".extracting") }
        #expect(leftovers.isEmpty)
    }

    @Test func plainUncompressedArchivesAreReadToo() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("a.tar", ustarArchive([("top/a.bin", [1, 2, 3]), ("./top/b.bin", Array(repeating: 5, count: 600))]))
        #expect(try TarArchive.extract(folder.file("a.tar"), into: folder.path) == ["top/a.bin", "top/b.bin"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("top/b.bin"))).count == 600)
    }

    @Test(arguments: ["../escape.bin", "/tmp/absolute.bin", "top/../../escape.bin"])
    func entriesOutsideTheDestinationAreRefused(name: String) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try FileManager.default.createDirectory(atPath: folder.file("into"), withIntermediateDirectories: false)
        try folder.write("evil.tar", ustarArchive([(name, [1, 2, 3])]))
        #expect(throws: DatasetError(path: folder.file("evil.tar"),
                                     reason: "tar entry `\(name)` at byte 0 would be written outside the destination folder")) {
            try TarArchive.extract(folder.file("evil.tar"), into: folder.file("into"))
        }
        #expect(!FileManager.default.fileExists(atPath: folder.file("escape.bin")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("into")).isEmpty)
    }

    @Test func aCutShortArchiveIsReportedAndLeavesNoPartialFile() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("whole.tar", ustarArchive([("a.bin", [1]), ("b.bin", Array(repeating: 2, count: 5000))]))
        let whole = try Data(contentsOf: URL(fileURLWithPath: folder.file("whole.tar")))
        try folder.write("cut.tar", Array(whole.prefix(512 * 2 + 512 + 3000)), gzip: true)
        try FileManager.default.createDirectory(atPath: folder.file("out"), withIntermediateDirectories: false)
        do {
            try TarArchive.extract(folder.file("cut.tar"), into: folder.file("out"))
            Issue.record("no error for a cut-short archive")
        } catch let error as DatasetError {
            #expect(error.reason.contains("truncated tar archive"), "\(error)")
            #expect(error.reason.contains("b.bin is cut short (3000 of 5000 bytes)"), "\(error)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("out")) == ["a.bin"])

        try folder.write("no-end.tar", Array(whole.prefix(512 * 2)))
        #expect(throws: DatasetError.self) { try TarArchive.extract(folder.file("no-end.tar"), into: folder.file("out")) }
    }

    @Test func aDamagedHeaderOrANonTarFileIsReported() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var archive = ustarArchive([("a.bin", [1, 2, 3])])
        archive[10] ^= 0x20
        try folder.write("damaged.tar", archive)
        #expect(throws: DatasetError(path: folder.file("damaged.tar"),
                                     reason: "not a tar archive, or corrupt: the header at byte 0 fails its checksum")) {
            try TarArchive.extract(folder.file("damaged.tar"), into: folder.path)
        }
        try folder.write("text.tar.gz", Array(String(repeating: "not a tar file\n", count: 100).utf8), gzip: true)
        #expect(throws: DatasetError.self) { try TarArchive.extract(folder.file("text.tar.gz"), into: folder.path) }
    }
}
