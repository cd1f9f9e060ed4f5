import Foundation
import TestSupport

/// A `trainer` process running in the background, its output going to files the test can read meanwhile.
/// Waits sleep with `Task.sleep`, never blocking a thread of the cooperative pool.
final class RunningTrainer {
    let arguments: [String]
    private let process = ChildProcess()
    private let outputFile = temporaryPath("stdout"), errorFile = temporaryPath("stderr")

    /// Starts the built `trainer` with `arguments`, through `launcher` if given (a command that runs the
    /// command line after it, such as `ip netns exec NAME`; its first element is an absolute path).
    init(_ arguments: [String], launcher: [String] = []) throws {
        self.arguments = arguments
        if let launcherPath = launcher.first {
            process.executableURL = URL(fileURLWithPath: launcherPath)
            process.arguments = Array(launcher.dropFirst()) + [trainerExecutable().path] + arguments
        } else {
            process.executableURL = trainerExecutable()
            process.arguments = arguments
        }
        for path in [outputFile, errorFile] { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorFile))
        try process.run()
    }

    deinit {
        if process.isRunning { process.interrupt(); process.terminate() }
        for path in [outputFile, errorFile] { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Sends `signal` (SIGINT, SIGTERM, SIGKILL…) to the process.
    func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Whether the process has not ended yet.
    var isRunning: Bool { process.isRunning }

    var stdout: String { (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? "" }

    /// The first match of `pattern`'s first capture group in standard output, waiting up to `timeout` seconds.
    func awaitOutput(matching pattern: String, timeout: TimeInterval) async throws -> String {
        try await awaitMatch(of: pattern, in: { self.stdout }, timeout: timeout)
    }

    /// The first match of `pattern`'s first capture group in standard error, waiting up to `timeout` seconds.
    func awaitError(matching pattern: String, timeout: TimeInterval) async throws -> String {
        try await awaitMatch(of: pattern, in: { self.stderr }, timeout: timeout)
    }

    private func awaitMatch(of pattern: String, in output: () -> String, timeout: TimeInterval) async throws -> String {
        let expression = try NSRegularExpression(pattern: pattern)
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            let text = output()
            if let match = expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
               let range = Range(match.range(at: 1), in: text) {
                return String(text[range])
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        } while Date() < deadline
        throw TimeoutError(arguments: arguments + ["(output matching \(pattern))"], seconds: timeout)
    }

    /// Waits up to `timeout` seconds for the process to end (killing it if it does not) and returns what it left.
    func finish(timeout: TimeInterval) async throws -> TrainerRun {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw TimeoutError(arguments: arguments, seconds: timeout)
        }
        process.waitUntilExit()
        return TrainerRun(status: process.terminationStatus, stdout: stdout, stderr: stderr,
                          exitedNormally: process.terminationReason == .exit)
    }
}
