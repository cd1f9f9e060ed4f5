import ArgumentParser
import Datasets
import Foundation

/// `trainer download`: fetches a data set's official files, checks their SHA-256 digests and puts
/// them where the training commands look.
struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download MNIST, Fashion-MNIST or CIFAR-10 from its official site, checked by SHA-256.",
        discussion: """
            Where files go: DIR/mnist/ and DIR/fashion-mnist/ (the four IDX .gz files each), and \
            DIR/cifar-10-batches-bin/ (unpacked from cifar-10-binary.tar.gz, which stays in DIR so that \
            a later run can check it; delete it to save 170 MB). DIR is --data-dir, else the first writable \
            of $TRAINER_DATA_DIR and ./data (created if needed): the folders train, eval, local and worker \
            search when they get no --data-dir.

            Each file is fetched into NAME.part, its SHA-256 digest is checked against the published one, \
            and only then is it renamed to NAME; a file already there with the right digest is skipped. \
            An interrupted download keeps NAME.part: running the same command again resumes it. A file \
            whose digest is wrong is deleted.

            Sources: MNIST \(DatasetSource.mnist.baseURL) (Google's mirror of the original files), \
            Fashion-MNIST \(DatasetSource.fashionMNIST.baseURL), CIFAR-10 \(DatasetSource.cifar10.baseURL)\
            \(DatasetSource.cifar10.files[0].name).
            """
    )

    @Argument(help: "The data set: mnist, fashion-mnist or cifar10.")
    var dataset: DownloadableDataset

    @Option(help: ArgumentHelp("The data folder to fill (default: the first writable of $TRAINER_DATA_DIR, ./data).", valueName: "dir"))
    var dataDir: String?

    @Option(help: ArgumentHelp("A base URL to fetch the files from instead of the official one (each file is URL/NAME).", valueName: "url"))
    var mirror: String?

    @Option(help: ArgumentHelp("A file of expected digests, lines `SHA256  FILENAME` as sha256sum prints them, replacing the built-in list.",
                               valueName: "file"))
    var checksums: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds without data before a transfer is given up (the partial file is kept).", valueName: "seconds"))
    var timeout: Double = 60

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        let source = dataset.source
        let root = try dataRoot()
        let base = try baseURL(source)
        let digests = try expectedDigests(source)
        let folder = source.downloadFolder.isEmpty ? root : root + "/" + source.downloadFolder
        try createFolder(folder)

        let downloader = FileDownloader(idleTimeout: timeout)
        var fetchedSomething = false
        for file in source.files {
            guard let url = URL(string: base + file.name) else { throw CLIError("--mirror \(base): \(base + file.name) is not a valid URL") }
            let destination = folder + "/" + file.name
            let display = ProgressDisplay(name: file.name, url: url.absoluteString, destination: destination,
                                          onTerminal: isatty(STDOUT_FILENO) == 1)
            let started = Date()
            let outcome = try await downloader.download(from: url, to: destination, sha256: digests[file.name]!) { display.handle($0) }
            switch outcome {
            case .alreadyThere:
                print("\(file.name): already there with the right SHA-256 (\(destination))")
            case let .downloaded(bytes, resumedFrom):
                fetchedSomething = true
                display.finish(bytes: bytes, resumedFrom: resumedFrom, seconds: Date().timeIntervalSince(started))
            }
        }
        if let extracted = source.extractedFolder {
            try unpack(source, into: root, folder: extracted, force: fetchedSomething)
        }
        print("\(source.name) is ready in \(root + "/" + source.loaderFolder)"
              + (dataDir == nil ? "" : " (train with --data-dir \(root))"))
    }

    /// The data folder: --data-dir, else the first writable default.
    private func dataRoot() throws -> String {
        if let dataDir { return dataDir }
        guard let root = DatasetLocation.writableRoot() else {
            throw CLIError("none of \(DatasetLocation.downloadRoots().joined(separator: ", ")) is writable; pass --data-dir")
        }
        print("Data folder: \(root) (pass --data-dir to choose another)")
        return root
    }

    /// The base URL ending in `/`: --mirror or the official one.
    private func baseURL(_ source: DatasetSource) throws -> String {
        guard let mirror else { return source.baseURL }
        guard let url = URL(string: mirror), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host != nil else {
            throw CLIError("--mirror \(mirror): give an http:// or https:// URL, such as https://example.org/datasets/\(source.name)/")
        }
        return mirror.hasSuffix("/") ? mirror : mirror + "/"
    }

    /// The expected digest of each file: from --checksums when given (every file must be listed), else the built-in ones.
    private func expectedDigests(_ source: DatasetSource) throws -> [String: String] {
        guard let checksums else { return Dictionary(uniqueKeysWithValues: source.files.map { ($0.name, $0.sha256) }) }
        let list = try ChecksumList(contentsOf: checksums)
        var digests: [String: String] = [:]
        for file in source.files {
            guard let digest = list[file.name] else {
                throw CLIError("--checksums \(checksums) has no line for \(file.name) (expected `SHA256  \(file.name)`)")
            }
            digests[file.name] = digest
        }
        return digests
    }

    /// Unpacks the archive into `root` unless `folder` already holds every file the loaders need.
    private func unpack(_ source: DatasetSource, into root: String, folder: String, force: Bool) throws {
        let target = root + "/" + folder
        let missing = source.extractedFiles.filter { !FileManager.default.fileExists(atPath: target + "/" + $0) }
        guard force || !missing.isEmpty else {
            print("\(folder)/: already unpacked (\(source.extractedFiles.count) files)")
            return
        }
        let archive = root + "/" + source.files[0].name
        print("Unpacking \(archive) into \(target)/")
        let written = try TarArchive.extract(archive, into: root)
        let inFolder = written.filter { $0.hasPrefix(folder + "/") }
        guard !inFolder.isEmpty else {
            throw CLIError("\(archive) holds no \(folder)/ folder (it held \(written.prefix(5).joined(separator: ", ")))")
        }
        print("Unpacked \(inFolder.count) files into \(target)/")
    }

    private func createFolder(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw CLIError("cannot create the data folder \(path): \((error as NSError).localizedDescription)")
        }
    }
}

/// The data sets `trainer download` knows, by command-line name.
enum DownloadableDataset: String, CaseIterable, ExpressibleByArgument {
    case mnist
    case fashionMNIST = "fashion-mnist"
    case cifar10

    var source: DatasetSource {
        switch self {
        case .mnist: .mnist
        case .fashionMNIST: .fashionMNIST
        case .cifar10: .cifar10
        }
    }
}
