import CZlib
import Foundation

/// Reads tar archives (POSIX ustar, GNU and pax variants), plain or gzip-compressed, and extracts
/// their regular files; folders are created as needed, links and devices are skipped.
///
/// Kept rather than replaced by libarchive (issue 14): its one job is unpacking `cifar-10-binary.tar.gz`
/// for `trainer download`, and it reads only regular files, GNU long names and pax paths in about 200
/// lines tested against GNU tar's output. libarchive would add libarchive-dev to `Deploy/setup.sh` and
/// libarchive13 with its compression and ACL libraries to every runtime image and host for that one
/// command, and the parts that matter here would stay ours anyway: refusing absolute and `..` paths
/// with the archive named in the error, and moving each file into place durably (`DurableOutputFile`).
public enum TarArchive {
    /// Extracts every regular file of the archive at `path` into `destination` and returns the
    /// relative paths written, in archive order. Each file is written under a temporary name and
    /// moved into place durably, so an interrupted extraction leaves no half-written file under a real name.
    /// Throws `DatasetError` naming the archive for a corrupt header, a cut-short archive or an
    /// entry whose path is absolute or climbs out of `destination` (`..`).
    @discardableResult
    public static func extract(_ path: String, into destination: String) throws -> [String] {
        let input = try GzipInput(path: path)
        var written: [String] = []
        var longName: String?
        var paxPath: String?
        var offset = 0
        while true {
            guard let header = try input.read(512), header.count == 512 else {
                throw DatasetError(path: path, reason: "truncated tar archive: it ends at byte \(offset) without its two closing zero blocks")
            }
            if header.allSatisfy({ $0 == 0 }) { break }
            let entry = try Header(header, archive: path, offset: offset)
            offset += 512
            let dataBlocks = (entry.size + 511) / 512 * 512
            switch entry.type {
            case "L", "x", "g":
                // GNU long name, pax extended header, pax global header: small data records read whole.
                guard entry.size <= 1 << 20 else {
                    throw DatasetError(path: path, reason: "tar header at byte \(offset - 512) has a \(entry.size)-byte extension record (too large)")
                }
                guard let data = try input.read(dataBlocks), data.count == dataBlocks else {
                    throw DatasetError(path: path, reason: "truncated tar archive inside the record at byte \(offset - 512)")
                }
                let record = Array(data.prefix(entry.size))
                if entry.type == "L" {
                    longName = String(decoding: record.prefix { $0 != 0 }, as: UTF8.self)
                } else if entry.type == "x" {
                    paxPath = paxValue("path", in: record)
                }
            case "0", "\0", "7", "5":
                let name = paxPath ?? longName ?? entry.name
                longName = nil
                paxPath = nil
                let relative = try safeRelativePath(name, archive: path, offset: offset - 512)
                let target = destination + "/" + relative
                if entry.type == "5" {
                    try createFolder(target)
                    try skip(input, dataBlocks, archive: path, offset: offset)
                } else {
                    try createFolder((target as NSString).deletingLastPathComponent)
                    try writeFile(input, size: entry.size, padded: dataBlocks, to: target, archive: path, offset: offset)
                    written.append(relative)
                }
            default:
                // Links, devices, FIFOs: nothing a data set needs; skip their (empty) data.
                longName = nil
                paxPath = nil
                try skip(input, dataBlocks, archive: path, offset: offset)
            }
            offset += dataBlocks
        }
        return written
    }

    /// One 512-byte header block, checked.
    private struct Header {
        var name: String
        var size: Int
        var type: Character

        init(_ block: [UInt8], archive: String, offset: Int) throws {
            let stored = TarArchive.octal(block[148..<156])
            var sum = 0
            for (index, byte) in block.enumerated() { sum += (148..<156).contains(index) ? 32 : Int(byte) }
            guard let stored, stored == sum else {
                throw DatasetError(path: archive, reason: "not a tar archive, or corrupt: the header at byte \(offset) fails its checksum")
            }
            let field = { (range: Range<Int>) in String(decoding: block[range].prefix { $0 != 0 }, as: UTF8.self) }
            let magic = block[257..<262]
            let prefix = Array(magic) == Array("ustar".utf8) ? field(345..<500) : ""
            name = prefix.isEmpty ? field(0..<100) : prefix + "/" + field(0..<100)
            type = Character(UnicodeScalar(block[156]))
            if block[124] & 0x80 != 0 {
                // GNU base-256 size for files of 8 GiB and more.
                var value = 0
                for byte in block[125..<136] { value = value << 8 | Int(byte) }
                size = value
            } else {
                guard let value = TarArchive.octal(block[124..<136]) else {
                    throw DatasetError(path: archive, reason: "corrupt tar header at byte \(offset): unreadable size field")
                }
                size = value
            }
        }
    }

    /// An octal number field (spaces and NULs around it allowed), or nil if it holds anything else.
    static func octal(_ field: ArraySlice<UInt8>) -> Int? {
        let digits = field.drop { $0 == 32 || $0 == 0 }.prefix { $0 != 32 && $0 != 0 }
        guard !digits.isEmpty, digits.allSatisfy({ (48...55).contains($0) }) else { return field.allSatisfy { $0 == 0 } ? 0 : nil }
        return digits.reduce(0) { $0 * 8 + Int($1 - 48) }
    }

    /// The value of `key` in a pax extended header (`LENGTH key=value\n` records).
    static func paxValue(_ key: String, in record: [UInt8]) -> String? {
        let text = String(decoding: record, as: UTF8.self)
        for line in text.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            let pair = line[line.index(after: space)...]
            if pair.hasPrefix(key + "=") { return String(pair.dropFirst(key.count + 1)) }
        }
        return nil
    }

    /// `name` without a leading `./` or trailing `/`, refusing absolute paths and `..` components.
    static func safeRelativePath(_ name: String, archive: String, offset: Int) throws -> String {
        let components = name.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        guard !name.hasPrefix("/"), !components.contains(".."), !components.isEmpty else {
            throw DatasetError(path: archive, reason: "tar entry `\(name)` at byte \(offset) would be written outside the destination folder")
        }
        return components.joined(separator: "/")
    }

    private static func createFolder(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw DatasetError(path: path, reason: "cannot create the folder: \((error as NSError).localizedDescription)")
        }
    }

    private static func skip(_ input: GzipInput, _ count: Int, archive: String, offset: Int) throws {
        var left = count
        while left > 0 {
            guard let chunk = try input.read(min(left, 1 << 20)), !chunk.isEmpty else {
                throw DatasetError(path: archive, reason: "truncated tar archive inside the entry at byte \(offset - 512)")
            }
            left -= chunk.count
        }
    }

    private static func writeFile(_ input: GzipInput, size: Int, padded: Int, to target: String, archive: String, offset: Int) throws {
        let folder = (target as NSString).deletingLastPathComponent, name = (target as NSString).lastPathComponent
        let temporary = folder + "/." + name + ".extracting-\(getpid())"
        let output = try DurableOutputFile(path: temporary, append: false)
        do {
            var left = size
            while left > 0 {
                guard let chunk = try input.read(min(left, 1 << 20)), !chunk.isEmpty else {
                    throw DatasetError(path: archive, reason: "truncated tar archive: \(target) is cut short "
                                       + "(\(size - left) of \(size) bytes)")
                }
                try chunk.withUnsafeBytes { try output.write($0) }
                left -= chunk.count
            }
            try output.commit(to: target)
        } catch {
            unlink(temporary)
            throw error
        }
        try skip(input, padded - size, archive: archive, offset: offset)
    }
}

/// Sequential reads from a gzip-compressed or plain file through zlib, with cut-short streams reported.
private final class GzipInput {
    let path: String
    private let file: gzFile

    init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw DatasetError(path: path, reason: "no such file") }
        guard let file = gzopen(path, "rb") else {
            throw DatasetError(path: path, reason: "cannot be opened: \(String(cString: strerror(errno)))")
        }
        gzbuffer(file, 1 << 17)
        self.path = path
        self.file = file
    }

    deinit { gzclose(file) }

    /// Up to `count` bytes (fewer only at the end of the data), or nil at the end.
    func read(_ count: Int) throws -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let read = bytes[filled...].withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            var code: Int32 = 0
            if read < 0 {
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown error"
                throw DatasetError(path: path, reason: "corrupt or truncated gzip data (\(message))")
            }
            if read == 0 {
                _ = gzerror(file, &code)
                if code == Z_BUF_ERROR { throw DatasetError(path: path, reason: "corrupt or truncated gzip data (unexpected end of file)") }
                break
            }
            filled += Int(read)
        }
        if filled == 0 { return nil }
        bytes.removeLast(count - filled)
        return bytes
    }
}
