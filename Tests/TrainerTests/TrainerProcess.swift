import Foundation
import TestSupport

/// What a finished `trainer` process left behind.
struct TrainerRun {
    var status: Int32
    var stdout: String
    var stderr: String
    /// Whether the process ended by itself with exit (not killed by a signal such as a crash).
    var exitedNormally: Bool
}

/// Runs the `trainer` executable built next to this test bundle, bounded by `timeout` seconds (times
/// `TestSlowdown.factor`).
///
/// Waits with `Task.sleep`, never blocking a thread of the cooperative pool (2 threads here), which
/// the cluster tests' tasks need while processes run.
func runTrainer(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 300) async throws -> TrainerRun {
    let process = ChildProcess()
    process.executableURL = trainerExecutable()
    process.arguments = arguments
    var merged = ProcessInfo.processInfo.environment
    for (key, value) in environment { merged[key] = value }
    process.environment = merged
    let outputFile = temporaryPath("stdout"), errorFile = temporaryPath("stderr")
    _ = FileManager.default.createFile(atPath: outputFile, contents: nil)
    _ = FileManager.default.createFile(atPath: errorFile, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: outputFile); try? FileManager.default.removeItem(atPath: errorFile) }
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorFile))
    try process.run()
    let deadline = Date().addingTimeInterval(TestSlowdown.scaled(timeout))
    while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw TimeoutError(arguments: arguments, seconds: TestSlowdown.scaled(timeout))
    }
    process.waitUntilExit()
    return TrainerRun(status: process.terminationStatus,
                      stdout: (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? "",
                      exitedNormally: process.terminationReason == .exit)
}

struct TimeoutError: Error, CustomStringConvertible {
    var arguments: [String]
    var seconds: TimeInterval
    var description: String { "trainer \(arguments.joined(separator: " ")) did not finish within \(seconds) s" }
}

/// The built `trainer`: SwiftPM puts it in the same folder as the test bundle.
func trainerExecutable() -> URL {
    let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var folder = testBinary.deletingLastPathComponent()
    // On macOS the runner sits inside the .xctest bundle; on Linux the bundle is the executable.
    while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("trainer").path) && folder.path != "/" {
        folder = folder.deletingLastPathComponent()
    }
    return folder.appendingPathComponent("trainer")
}

/// A unique path in the temporary folder.
func temporaryPath(_ stem: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("trainer-tests-\(stem)-\(UUID().uuidString)").path
}

/// The JSON objects of a metrics file, one per line.
func metricsEvents(_ path: String) throws -> [[String: Any]] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw CocoaError(.coderReadCorrupt)
        }
        return object
    }
}

/// The `TRAINER_DATA_DIR` folder, if it holds `subfolder`.
func sharedData(_ subfolder: String) -> String? {
    guard let root = ProcessInfo.processInfo.environment["TRAINER_DATA_DIR"], !root.isEmpty,
          FileManager.default.fileExists(atPath: root + "/" + subfolder) else { return nil }
    return root
}
