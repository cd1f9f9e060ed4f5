import Foundation
import Logging
import ZeroMQ

/// Reads the one-line Z85 key files `trainer keygen` writes; errors name the file, never its contents.
enum CurveKeyFile {
    /// The key in `path`: one line of 40 Z85 characters (surrounding whitespace ignored).
    static func read(_ path: String, what: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read \(what) file \(path)")
        }
        guard data.count <= 1024, let text = String(data: data, encoding: .utf8) else {
            throw CLIError("\(path) is not a \(what) file (expected one line of 40 Z85 characters, as trainer keygen writes)")
        }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard CurveKeyPair.isValidKey(key) else {
            throw CLIError("\(path) is not a \(what) file (expected one line of 40 Z85 characters, as trainer keygen writes)")
        }
        return key
    }

    /// The secret key in `path` and its key pair; warns when others may read the file.
    static func keyPair(secretFile path: String) throws -> CurveKeyPair {
        let secret = try read(path, what: "CURVE secret key")
        // Both halves are 40 Z85 characters, so only the name or a twin .public file beside it gives a public key away.
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let twins = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".public") }
        if url.pathExtension == "public"
            || twins.contains(where: { (try? read(folder + "/" + $0, what: "CURVE public key")) == secret }) {
            throw CLIError("\(path) holds a public key; give the secret key file (trainer keygen --out NAME writes NAME.secret and NAME.public)")
        }
        if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
            Logger(label: "trainer").warning(
                "trainer: warning: \(path) can be read by other users (mode \(String(mode, radix: 8))); run chmod 600 \(path)")
        }
        do {
            return try CurveKeyPair(publicKey: CurveKeyPair.publicKey(fromSecret: secret), secretKey: secret)
        } catch {
            throw CLIError("\(path) does not hold a usable CURVE secret key")
        }
    }
}
