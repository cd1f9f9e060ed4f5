import Foundation
import TestSupport

/// What a finished helper process printed.
struct CommandRun {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `executable` with `arguments`, bounded by `timeout` seconds, without blocking a cooperative thread.
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                timeout: TimeInterval = 60) async throws -> CommandRun {
    let process = ChildProcess()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let outputFile = temporaryPath("command-stdout"), errorFile = temporaryPath("command-stderr")
    _ = FileManager.default.createFile(atPath: outputFile, contents: nil)
    _ = FileManager.default.createFile(atPath: errorFile, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: outputFile); try? FileManager.default.removeItem(atPath: errorFile) }
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorFile))
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw CommandTimeout(command: ([executable] + arguments).joined(separator: " "), seconds: timeout)
    }
    process.waitUntilExit()
    return CommandRun(status: process.terminationStatus,
                      stdout: (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? "")
}

struct CommandTimeout: Error, CustomStringConvertible {
    var command: String
    var seconds: TimeInterval
    var description: String { "\(command) did not finish within \(seconds) s" }
}

/// The full path of the program `name` on PATH, if there is one.
func executableOnPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for folder in path.split(separator: ":") {
        let candidate = "\(folder)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}
