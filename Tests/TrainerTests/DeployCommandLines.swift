import Foundation
import Testing
@testable import trainer

/// The word after `flag` in `arguments`.
func argument(after flag: String, in arguments: [String]) -> String? {
    arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
}

/// Parses the `trainer` command lines in `words` (`trainer …`, `start-server STATE …`, or the arguments
/// alone when they begin with server or worker) with the real parser, recording an issue for each that
/// fails; returns how many there were.
@discardableResult
func expectTrainerCommandParses(_ words: [String], in place: String) throws -> Int {
    let argumentLists: [[String]]
    if words.first == "server" || words.first == "worker" {
        argumentLists = [words]
    } else {
        argumentLists = try #require(DeployFiles.trainerArguments(words), "\(place): not a trainer or start-server command: \(words)")
    }
    for arguments in argumentLists {
        do {
            let command = try Trainer.parseAsRoot(arguments)
            let expected: Any.Type = arguments.first == "server" ? ServerCommand.self : WorkerCommand.self
            #expect(type(of: command) == expected, "\(place): \(arguments) is a \(type(of: command))")
        } catch {
            Issue.record("\(place): trainer \(arguments.joined(separator: " ")) does not parse: \(Trainer.message(for: error))")
        }
    }
    return argumentLists.count
}

/// The labels in a Kubernetes object's metadata.
func objectLabels(of document: [String: Any]) -> [String: String] {
    (document["metadata"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
}

/// The containers of a Kubernetes workload's pod template.
func podContainers(of document: [String: Any]) -> [[String: Any]] {
    let podSpec = ((document["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
    return podSpec?["containers"] as? [[String: Any]] ?? []
}

/// A deployment file that is not what the tests expect.
struct DeployFileError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The arguments `Deploy/start-server.sh` really hands `trainer` when started with `arguments` (STATE FLAGS…)
/// in `environment` (added to this process's): the script runs with a stand-in trainer that records them.
func startServerArguments(_ arguments: [String], environment: [String: String]) async throws -> [String] {
    let folder = temporaryPath("start-server-arguments")
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let stub = folder + "/trainer", record = folder + "/arguments"
    try "#!/bin/sh\nprintf '%s\\0' \"$@\" > '\(record)'\n".write(toFile: stub, atomically: true, encoding: .utf8)
    chmod(stub, 0o755)
    var merged = ProcessInfo.processInfo.environment
    merged.merge(environment) { $1 }
    merged["TRAINER"] = stub
    let script = DeployFiles.folder.appendingPathComponent("start-server.sh").path
    var run = try await runCommand("/bin/sh", [script] + arguments, environment: merged)
    // exec of the stand-in fails with ETXTBSY while a child that another test spawned at that moment
    // still holds the descriptor it was written through (seen under load): try again, a bounded few times.
    for _ in 0..<5 where run.status == 126 && run.stderr.contains("Text file busy") {
        try await Task.sleep(for: .milliseconds(200))
        run = try await runCommand("/bin/sh", [script] + arguments, environment: merged)
    }
    guard run.status == 0 else { throw DeployFileError("start-server.sh \(arguments.joined(separator: " ")) exited \(run.status): \(run.stderr)") }
    return try String(contentsOfFile: record, encoding: .utf8).split(separator: "\0", omittingEmptySubsequences: false)
        .dropLast().map(String.init)
}
