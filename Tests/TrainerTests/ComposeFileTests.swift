import Foundation
import Testing
import Yams

/// Deploy/compose.yaml: a server and scalable workers whose command lines the real parser accepts.
@Suite struct ComposeFileTests {
    private static func compose() throws -> [String: Any] {
        let url = DeployFiles.folder.appendingPathComponent("compose.yaml")
        return try #require(try Yams.load(yaml: String(contentsOf: url, encoding: .utf8)) as? [String: Any])
    }

    @Test func theComposeFileHasAServerAndScalableWorkersWithDefinedVolumes() throws {
        let compose = try Self.compose()
        let services = try #require(compose["services"] as? [String: [String: Any]])
        let declaredVolumes = Set((compose["volumes"] as? [String: Any] ?? [:]).keys)
        let declaredNetworks = Set((compose["networks"] as? [String: Any] ?? [:]).keys)
        for name in ["server", "worker"] {
            let service = try #require(services[name], "compose.yaml: services.\(name)")
            #expect(service["image"] != nil || service["build"] != nil, "services.\(name): image or build")
            #expect(service["command"] is [Any], "services.\(name): command, as a list")
            for network in service["networks"] as? [String] ?? [] {
                #expect(declaredNetworks.contains(network), "services.\(name): network \(network) is not declared")
            }
            for volume in service["volumes"] as? [String] ?? [] {
                let source = String(try DeployFiles.expandCompose(volume).split(separator: ":")[0])
                if !source.hasPrefix(".") && !source.hasPrefix("/") {
                    #expect(declaredVolumes.contains(source), "services.\(name): volume \(source) is not declared under volumes:")
                }
                if volume.hasSuffix(":/data:ro") || volume.contains(":/data") { #expect(volume.hasSuffix(":ro"), "services.\(name): mount the data read-only") }
            }
        }
        let worker = try #require(services["worker"])
        #expect(worker["container_name"] == nil, "a worker with a container_name cannot be scaled")
        #expect(worker["restart"] is String, "services.worker: a restart policy")
        #expect(worker["ports"] == nil, "workers publish no ports (several would clash)")
        let replicas = try DeployFiles.expandCompose("\((worker["deploy"] as? [String: Any])?["replicas"] ?? "")")
        let server = try #require(services["server"])
        let serverCommand = try ((server["command"] as? [Any]) ?? []).map { try DeployFiles.expandCompose("\($0)") }
        let workers = serverCommand.firstIndex(of: "--workers").map { serverCommand[serverCommand.index(after: $0)] }
        #expect(workers != nil && workers == replicas, "the server waits for \(workers ?? "?") workers, compose starts \(replicas)")
        #expect((server["volumes"] as? [String] ?? []).contains { $0.hasSuffix(":/state") }, "services.server: a volume at /state")
    }

    @Test func everyTrainerCommandInTheComposeFileParses() throws {
        let services = try #require(try Self.compose()["services"] as? [String: [String: Any]])
        var parsed = 0
        for (name, service) in services.sorted(by: { $0.key < $1.key }) {
            // Without an entrypoint the image's, trainer, runs the command.
            let entrypoint = (service["entrypoint"] as? [Any])?.map { "\($0)" } ?? ["trainer"]
            let words = try (entrypoint + ((service["command"] as? [Any]) ?? []).map { "\($0)" }).map { try DeployFiles.expandCompose($0) }
            parsed += try expectTrainerCommandParses(words, in: "compose.yaml services.\(name)")
        }
        #expect(parsed >= 3, "the server (new and resumed) and the worker")
    }

    /// The two-shard layout the file's header gives (SHARDS, SHARD=1, --profile shards): start-server, run for
    /// real with each server service's command and environment, hands trainer `--shards … --shard 1` for
    /// `server` and `--shard 2` for `server-2`, with the same training flags, and the parser accepts both
    /// (it refuses --metrics or --checkpoint on shard 2). Without SHARDS, `server` gets no shard flags.
    @Test func theTwoShardLayoutStartsShardOneAndShardTwoWithTheSameTrainingFlags() async throws {
        let services = try #require(try Self.compose()["services"] as? [String: [String: Any]])
        let shards = "tcp://server:5555,tcp://server-2:5555"
        func startServer(_ name: String, _ variables: [String: String]) async throws -> [String] {
            let service = try #require(services[name], "services.\(name)")
            #expect((service["entrypoint"] as? [Any])?.map { "\($0)" } == ["start-server"], "services.\(name): start-server")
            let command = try ((service["command"] as? [Any]) ?? []).map { try DeployFiles.expandCompose("\($0)", environment: variables) }
            var environment: [String: String] = [:]
            for (key, value) in service["environment"] as? [String: Any] ?? [:] {
                environment[key] = try DeployFiles.expandCompose("\(value)", environment: variables)
            }
            let arguments = try await startServerArguments(command, environment: environment)
            try expectTrainerCommandParses(arguments, in: "compose.yaml services.\(name) with \(variables)")
            return arguments
        }
        let first = try await startServer("server", ["SHARDS": shards, "SHARD": "1"])
        let second = try await startServer("server-2", ["SHARDS": shards, "SHARD": "1"])
        #expect(argument(after: "--shards", in: first) == shards && argument(after: "--shard", in: first) == "1", "\(first)")
        #expect(argument(after: "--shards", in: second) == shards && argument(after: "--shard", in: second) == "2", "\(second)")
        #expect(first.contains("--metrics") && first.contains("--checkpoint") && !second.contains("--metrics") && !second.contains("--checkpoint"))
        for flag in ["--workers", "--max-workers", "--model", "--dataset", "--epochs", "--batch-size", "--mode"] {
            #expect(argument(after: flag, in: first) == argument(after: flag, in: second), "\(flag): shard 1 \(first), shard 2 \(second)")
        }
        #expect((services["server-2"]?["profiles"] as? [String]) == ["shards"], "server-2 starts only with --profile shards")
        let server2Volumes = services["server-2"]?["volumes"] as? [String] ?? []
        #expect(server2Volumes.contains("state-2:/state") && !server2Volumes.contains("state:/state"), "server-2 keeps its own state: \(server2Volumes)")
        let alone = try await startServer("server", [:])
        #expect(!alone.contains("--shards") && !alone.contains("--shard"), "\(alone)")
    }
}
