import ArgumentParser
import Foundation
import ZeroMQ

/// `trainer keygen`: writes a new CURVE key pair to PATH.public and PATH.secret.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Generate a CURVE key pair for encrypted, authenticated server–worker connections.",
        discussion: """
            Writes PATH.public (the public key, mode 0644: share it) and PATH.secret (the secret key, mode 0600 from its creation: keep it on this machine), each one line of 40-character Z85 text. Prints the public key and the two paths, never the secret key. Existing files are kept unless --force.

            Use, with the server and worker flags: run keygen once for the server and once per worker, then
              server: --curve-secret-key server.secret
                      --authorized-keys workers.keys (the workers' public keys, one per
                      line: the contents of their .public files; # starts a comment)
              worker: --curve-server-key server.public (the server's public key file)
                      --curve-secret-key worker-1.secret (the worker's own secret key)
            """
    )

    @Option(help: ArgumentHelp("Where to write the key pair: PATH.public and PATH.secret.", valueName: "path"))
    var out: String

    @Flag(help: "Replace existing key files (the old secret key is lost).")
    var force = false

    func run() throws {
        let files = try KeyFiles(prefix: out)
        if !force { try files.refuseExisting() }
        let keyPair = try CurveKeyPair.generate()
        if force {
            try files.replace(with: keyPair)
        } else {
            try files.create(with: keyPair)
        }
        print("Public key: \(keyPair.publicKey)")
        print("Wrote \(files.publicPath) (public key: give it to the peers)")
        print("Wrote \(files.secretPath) (secret key, mode 0600: keep it private)")
    }
}

/// The two files of a key pair and how to write them.
private struct KeyFiles {
    let publicPath: String
    let secretPath: String

    init(prefix: String) throws {
        guard !prefix.isEmpty else { throw CLIError("--out: give a path such as keys/server") }
        if prefix.hasSuffix("/") || Self.isDirectory(prefix) {
            throw CLIError("--out \(prefix) is a directory; give a path inside it, such as \(prefix.hasSuffix("/") ? prefix : prefix + "/")server")
        }
        let directory = URL(fileURLWithPath: prefix).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: directory) else {
            throw CLIError("--out \(prefix): directory \(directory) does not exist")
        }
        guard Self.isDirectory(directory) else {
            throw CLIError("--out \(prefix): \(directory) is not a directory")
        }
        publicPath = prefix + ".public"
        secretPath = prefix + ".secret"
    }

    /// Throws if either file (or a link by its name) exists.
    func refuseExisting() throws {
        for path in [secretPath, publicPath] where Self.exists(path) {
            throw CLIError("\(path) already exists; pass --force to replace the key pair")
        }
    }

    /// Creates both files, failing if either exists; leaves neither behind on failure.
    func create(with keyPair: CurveKeyPair) throws {
        try Self.writeNew(secretPath, keyPair.secretKey, mode: 0o600)
        do {
            try Self.writeNew(publicPath, keyPair.publicKey, mode: 0o644)
        } catch {
            unlink(secretPath)
            throw error
        }
    }

    /// Writes both files beside their final names, then renames them over whatever is there.
    func replace(with keyPair: CurveKeyPair) throws {
        let suffix = ".tmp-\(getpid())"
        let secretTemporary = secretPath + suffix, publicTemporary = publicPath + suffix
        do {
            try Self.writeNew(secretTemporary, keyPair.secretKey, mode: 0o600)
            try Self.writeNew(publicTemporary, keyPair.publicKey, mode: 0o644)
            try Self.moveIntoPlace(secretTemporary, to: secretPath)
            try Self.moveIntoPlace(publicTemporary, to: publicPath)
        } catch {
            unlink(secretTemporary)
            unlink(publicTemporary)
            throw error
        }
    }

    /// Creates `path` with exactly `mode` from the start (O_EXCL: never through an existing file or link) holding `key` and a newline.
    private static func writeNew(_ path: String, _ key: String, mode: mode_t) throws {
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw failure("create", path, errno) }
        var written = false
        defer {
            close(descriptor)
            if !written { unlink(path) }
        }
        // The umask may have removed bits: set exactly the mode asked for.
        guard fchmod(descriptor, mode) == 0 else { throw failure("set the mode of", path, errno) }
        var bytes = Array((key + "\n").utf8)
        defer { for index in bytes.indices { bytes[index] = 0 } }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("write", path, errno)
            }
            offset += count
        }
        guard fsync(descriptor) == 0 else { throw failure("write", path, errno) }
        written = true
    }

    private static func moveIntoPlace(_ source: String, to destination: String) throws {
        if rename(source, destination) != 0 { throw failure("replace", destination, errno) }
    }

    private static func failure(_ action: String, _ path: String, _ code: Int32) -> CLIError {
        switch code {
        case EEXIST: CLIError("\(path) already exists; pass --force to replace the key pair")
        default: CLIError("cannot \(action) \(path): \(String(cString: strerror(code)))")
        }
    }

    private static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
