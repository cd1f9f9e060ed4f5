import CZlib
import Foundation

/// Reads whole files that may be gzip-compressed or plain (zlib's `gzread` passes plain files through).
public enum CompressedFile {
    /// The file's bytes, decompressed if it is gzip; throws `DatasetError` naming the file otherwise.
    public static func read(_ path: String, sizeLimit: Int = 1 << 31) throws -> [UInt8] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw DatasetError(path: path, reason: "no such file")
        }
        guard !isFolder.boolValue else { throw DatasetError(path: path, reason: "is a folder, not a file") }
        guard let file = gzopen(path, "rb") else {
            throw DatasetError(path: path, reason: "cannot be opened: \(String(cString: strerror(errno)))")
        }
        defer { gzclose(file) }
        gzbuffer(file, 1 << 17)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let read = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if read < 0 {
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown error"
                throw DatasetError(path: path, reason: "corrupt or truncated gzip data (\(message))")
            }
            if read == 0 {
                // zlib hands over what it could inflate and then 0; a cut-short stream shows only in gzerror.
                var code: Int32 = 0
                _ = gzerror(file, &code)
                if code == Z_BUF_ERROR {
                    throw DatasetError(path: path, reason: "corrupt or truncated gzip data (unexpected end of file)")
                }
                break
            }
            bytes.append(contentsOf: chunk[0..<Int(read)])
            guard bytes.count <= sizeLimit else {
                throw DatasetError(path: path, reason: "larger than \(sizeLimit) bytes once decompressed")
            }
        }
        return bytes
    }
}
