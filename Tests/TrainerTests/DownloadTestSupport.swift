import Foundation
import TestSupport

/// Fashion-MNIST as Debian installs it (dataset-fashion-mnist), present on every machine of the project.
let fashionFolder = "/usr/share/datasets/fashion-mnist"

/// The four IDX file names of MNIST and Fashion-MNIST.
let idxFileNames = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]

/// name → path of the Fashion-MNIST files, or nil (with the reason printed) when they are absent.
func fashionFiles() -> [String: String]? {
    let files = Dictionary(uniqueKeysWithValues: idxFileNames.map { ($0, fashionFolder + "/" + $0) })
    guard files.values.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) else {
        print("skipped: Fashion-MNIST is absent from \(fashionFolder) (apt-get install dataset-fashion-mnist)")
        return nil
    }
    return files
}

/// Runs a tool found on PATH, bounded by `timeout` seconds, and returns its standard output; throws if it fails.
/// Waits with `Task.sleep`, never blocking a thread of the cooperative pool.
@discardableResult
func runTool(_ arguments: [String], in folder: String? = nil, timeout: TimeInterval = 120) async throws -> String {
    let tool = ChildProcess()
    tool.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    tool.arguments = arguments
    if let folder { tool.currentDirectoryURL = URL(fileURLWithPath: folder) }
    let outputFile = temporaryPath("tool-output")
    _ = FileManager.default.createFile(atPath: outputFile, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: outputFile) }
    tool.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
    try tool.run()
    let deadline = Date().addingTimeInterval(timeout)
    while tool.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
    if tool.isRunning {
        tool.terminate()
        tool.waitUntilExit()
        throw ServerError("\(arguments.joined(separator: " ")) did not finish within \(timeout) s")
    }
    guard tool.terminationStatus == 0 else { throw ServerError("\(arguments.joined(separator: " ")) exited with \(tool.terminationStatus)") }
    return (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
}

/// Writes what the system's `sha256sum` prints for `paths` (full paths: the names carry folders) to `output`.
func writeChecksums(of paths: [String], to output: String) async throws {
    try await runTool(["sha256sum"] + paths).write(toFile: output, atomically: true, encoding: .utf8)
}

/// The SHA-256 digest of a file as the system's `sha256sum` prints it.
func systemSHA256(_ path: String) async throws -> String {
    String(try await runTool(["sha256sum", path]).prefix(64))
}

/// A fresh folder for one test, removed by the caller.
func makeTemporaryFolder(_ stem: String) throws -> String {
    let path = temporaryPath(stem)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The size of a file, or nil when there is none.
func fileSize(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
}
