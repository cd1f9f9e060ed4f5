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
            let words = try (entrypoint + ((service["command"] as? [Any]) ?? []).map { "\($0)" }).map(DeployFiles.expandCompose)
            parsed += try expectTrainerCommandParses(words, in: "compose.yaml services.\(name)")
        }
        #expect(parsed >= 3, "the server (new and resumed) and the worker")
    }
}
