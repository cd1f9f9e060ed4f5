import Foundation
import Testing
import Yams

/// The YAML files under Deploy/ parse, and the Kubernetes manifests have what each kind needs and start
/// `trainer` with command lines its parser accepts.
@Suite struct DeployYAMLTests {
    private static func yamlFiles() -> [URL] {
        DeployFiles.files { ["yaml", "yml"].contains($0.pathExtension) }
    }

    /// Every document of every YAML file under Deploy/, with the file it came from.
    private static func yamlDocuments() throws -> [(file: String, document: [String: Any])] {
        var documents: [(file: String, document: [String: Any])] = []
        for url in yamlFiles() {
            let file = DeployFiles.relativePath(url)
            // The sequence ends at the last document or at the first error, which it keeps.
            var sequence = try Yams.load_all(yaml: String(contentsOf: url, encoding: .utf8))
            while let document = sequence.next() {
                guard let mapping = document as? [String: Any] else { throw DeployFileError("\(file): a document is not a mapping") }
                documents.append((file, mapping))
            }
            if let error = sequence.error { throw DeployFileError("\(file) is not valid YAML: \(error)") }
        }
        return documents
    }

    private static func kubernetesDocuments() throws -> [(file: String, document: [String: Any])] {
        try yamlDocuments().filter { $0.document["kind"] != nil }
    }

    @Test func everyYAMLFileParsesAndHoldsComposeOrKubernetesDocuments() throws {
        let files = Self.yamlFiles()
        #expect(files.count >= 6, "expected compose.yaml and the Kubernetes manifests under Deploy/, found \(files.map(DeployFiles.relativePath))")
        for (file, document) in try Self.yamlDocuments() {
            #expect(document["kind"] != nil || document["services"] != nil, "\(file): neither a Kubernetes object nor a compose file")
        }
    }

    @Test func everyKubernetesObjectHasTheFieldsItsKindRequires() throws {
        let documents = try Self.kubernetesDocuments()
        var kinds = Set<String>()
        for (file, document) in documents {
            let kind = try #require(document["kind"] as? String, "\(file): kind")
            kinds.insert(kind)
            let place = "\(file) (\(kind))"
            #expect((document["apiVersion"] as? String)?.isEmpty == false, "\(place): apiVersion")
            let metadata = try #require(document["metadata"] as? [String: Any], "\(place): metadata")
            #expect((metadata["name"] as? String)?.isEmpty == false, "\(place): metadata.name")
            switch kind {
            case "Namespace":
                break
            case "ConfigMap":
                let data = try #require(document["data"] as? [String: Any], "\(place): data")
                #expect(!data.isEmpty && data.values.allSatisfy { $0 is String }, "\(place): data must map names to strings")
            case "Secret":
                let data = (document["stringData"] ?? document["data"]) as? [String: Any]
                #expect(data?.isEmpty == false, "\(place): stringData or data")
            case "PersistentVolumeClaim":
                let spec = try #require(document["spec"] as? [String: Any], "\(place): spec")
                #expect((spec["accessModes"] as? [Any])?.isEmpty == false, "\(place): spec.accessModes")
                #expect(((spec["resources"] as? [String: Any])?["requests"] as? [String: Any])?["storage"] != nil,
                        "\(place): spec.resources.requests.storage")
            case "Service":
                let spec = try #require(document["spec"] as? [String: Any], "\(place): spec")
                #expect((spec["selector"] as? [String: Any])?.isEmpty == false, "\(place): spec.selector")
                let ports = try #require(spec["ports"] as? [[String: Any]], "\(place): spec.ports")
                #expect(!ports.isEmpty && ports.allSatisfy { $0["port"] is Int }, "\(place): each port needs a number")
            case "Job", "StatefulSet", "Deployment":
                let spec = try #require(document["spec"] as? [String: Any], "\(place): spec")
                let template = try #require(spec["template"] as? [String: Any], "\(place): spec.template")
                let labels = try #require((template["metadata"] as? [String: Any])?["labels"] as? [String: Any], "\(place): template labels")
                if kind != "Job" {
                    let selector = try #require((spec["selector"] as? [String: Any])?["matchLabels"] as? [String: Any], "\(place): spec.selector.matchLabels")
                    #expect(selector.allSatisfy { labels[$0.key] as? String == $0.value as? String }, "\(place): the selector does not match the template's labels")
                } else {
                    #expect(spec["completions"] is Int && spec["parallelism"] is Int, "\(place): completions and parallelism")
                    let restart = (template["spec"] as? [String: Any])?["restartPolicy"] as? String
                    #expect(restart == "OnFailure" || restart == "Never", "\(place): a Job's pods need restartPolicy OnFailure or Never")
                }
                let containers = podContainers(of: document)
                #expect(!containers.isEmpty, "\(place): containers")
                for container in containers {
                    #expect((container["image"] as? String)?.isEmpty == false, "\(place): every container needs an image")
                    #expect(container["args"] is [Any] || container["command"] is [Any], "\(place): every container needs args or a command")
                    let resources = container["resources"] as? [String: Any]
                    #expect(resources?["requests"] != nil && resources?["limits"] != nil, "\(place): resource requests and limits")
                }
            default:
                Issue.record("\(place): a kind this test does not know; add its required fields here")
            }
        }
        #expect(kinds.isSuperset(of: ["ConfigMap", "Service", "Job", "PersistentVolumeClaim", "Secret"]), "kinds found: \(kinds.sorted())")
    }

    @Test func theServiceSelectsTheServerPodAndTheWorkersJobMatchesTheConfiguredWorkerCount() throws {
        let documents = try Self.kubernetesDocuments().map(\.document)
        let podLabels = documents.compactMap { (($0["spec"] as? [String: Any])?["template"] as? [String: Any])?["metadata"] as? [String: Any] }
            .compactMap { $0["labels"] as? [String: String] }
        for service in documents where service["kind"] as? String == "Service" {
            let selector = try #require((service["spec"] as? [String: Any])?["selector"] as? [String: String])
            #expect(podLabels.contains { labels in selector.allSatisfy { labels[$0.key] == $0.value } },
                    "the Service's selector \(selector) matches no pod template")
        }
        let configuration = try #require(documents.first { $0["kind"] as? String == "ConfigMap" }?["data"] as? [String: String])
        let workers = try #require(configuration["WORKERS"].flatMap(Int.init), "the ConfigMap's WORKERS")
        let jobs = documents.filter { $0["kind"] as? String == "Job" && (objectLabels(of: $0)["app.kubernetes.io/component"] == "worker") }
        #expect(jobs.count == 1, "one Job of workers")
        for job in jobs {
            let spec = try #require(job["spec"] as? [String: Any])
            #expect(spec["completionMode"] as? String == "Indexed")
            #expect(spec["completions"] as? Int == workers && spec["parallelism"] as? Int == workers,
                    "the workers' Job runs \(spec["completions"] ?? "?") (parallelism \(spec["parallelism"] ?? "?")), the server waits for WORKERS = \(workers)")
        }
    }

    /// The server's pod carries Prometheus's scrape annotations, and they name the port its container opens and
    /// its `--metrics-port` serves on every interface.
    @Test func theServerPodCarriesScrapeAnnotationsForItsMetricsPort() throws {
        let documents = try Self.kubernetesDocuments().map(\.document)
        let servers = documents.filter { $0["kind"] as? String == "Job" && objectLabels(of: $0)["app.kubernetes.io/component"] == "server" }
        #expect(servers.count == 1, "one server Job")
        for server in servers {
            let template = try #require((server["spec"] as? [String: Any])?["template"] as? [String: Any])
            let annotations = try #require((template["metadata"] as? [String: Any])?["annotations"] as? [String: String])
            #expect(annotations["prometheus.io/scrape"] == "true" && annotations["prometheus.io/path"] == "/metrics", "\(annotations)")
            let port = try #require(annotations["prometheus.io/port"].flatMap(Int.init), "prometheus.io/port")
            let container = try #require(podContainers(of: server).first)
            let ports = (container["ports"] as? [[String: Any]] ?? []).compactMap { $0["containerPort"] as? Int }
            #expect(ports.contains(port), "the container opens \(ports), the annotation names \(port)")
            let args = (container["args"] as? [Any] ?? []).map { "\($0)" }
            let flag = try #require(args.firstIndex(of: "--metrics-port"), "--metrics-port in \(args)")
            #expect(args[flag + 1] == String(port))
            let bind = try #require(args.firstIndex(of: "--metrics-bind"), "--metrics-bind in \(args)")
            #expect(args[bind + 1] == "0.0.0.0", "Prometheus scrapes the pod's address, not its loopback")
        }
    }

    /// A container's environment as Kubernetes sets it: the ConfigMap `configuration` through envFrom, then its
    /// env entries (a value, or a ConfigMap key), which take precedence.
    private static func environment(of container: [String: Any], configuration: [String: String], in file: String) -> [String: String] {
        var environment = ["JOB_COMPLETION_INDEX": "0"]
        if (container["envFrom"] as? [[String: Any]])?.contains(where: { $0["configMapRef"] != nil }) == true {
            environment.merge(configuration) { $1 }
        }
        for variable in container["env"] as? [[String: Any]] ?? [] {
            guard let name = variable["name"] as? String else { continue }
            if let value = variable["value"] as? String {
                environment[name] = value
            } else if let key = ((variable["valueFrom"] as? [String: Any])?["configMapKeyRef"] as? [String: Any])?["key"] as? String {
                guard let value = configuration[key] else {
                    Issue.record("\(file): \(name) refers to \(key), which the ConfigMap lacks")
                    continue
                }
                environment[name] = value
            }
        }
        return environment
    }

    /// The two-shard layout: with the ConfigMap's SHARDS and SHARD set as 10-config.yaml says, start-server, run
    /// for real with each server Job's args and environment, hands trainer `--shards … --shard 1` (trainer-server)
    /// and `--shard 2` (shards/'s trainer-server-2, which writes no metrics or checkpoint), the parser accepts both,
    /// and the second shard has its own Service (the address in SHARDS) and its own state volume. The ConfigMap
    /// as shipped (SHARDS and SHARD empty) gives trainer-server no shard flags.
    @Test func theShardTwoJobIsShardTwoOfTheConfiguredShards() async throws {
        let documents = try Self.kubernetesDocuments()
        let shipped = try #require(documents.first { $0.document["kind"] as? String == "ConfigMap" }?.document["data"] as? [String: String])
        #expect(shipped["SHARDS"] == "" && shipped["SHARD"] == "", "one server unless the operator sets SHARDS and SHARD")
        let shards = "tcp://trainer-server:5555,tcp://trainer-server-2:5555"
        var configuration = shipped
        (configuration["SHARDS"], configuration["SHARD"]) = (shards, "1")
        func startServer(component: String, configuration: [String: String]) async throws -> (arguments: [String], job: [String: Any]) {
            let (file, job) = try #require(documents.first { $0.document["kind"] as? String == "Job" && objectLabels(of: $0.document)["app.kubernetes.io/component"] == component },
                                           "a Job with component \(component)")
            let container = try #require(podContainers(of: job).first)
            #expect((container["command"] as? [Any])?.map { "\($0)" } == ["start-server"], "\(file): start-server")
            let environment = Self.environment(of: container, configuration: configuration, in: file)
            let args = try ((container["args"] as? [Any]) ?? []).map { try DeployFiles.expandKubernetes("\($0)", environment: environment) }
            let arguments = try await startServerArguments(args, environment: environment)
            try expectTrainerCommandParses(arguments, in: "\(file) with SHARDS \(configuration["SHARDS"] ?? "")")
            return (arguments, job)
        }
        let (first, _) = try await startServer(component: "server", configuration: configuration)
        let (second, secondJob) = try await startServer(component: "server-shard-2", configuration: configuration)
        #expect(argument(after: "--shards", in: first) == shards && argument(after: "--shard", in: first) == "1", "\(first)")
        #expect(argument(after: "--shards", in: second) == shards && argument(after: "--shard", in: second) == "2", "\(second)")
        #expect(first.contains("--metrics") && !second.contains("--metrics") && !second.contains("--checkpoint"))
        for flag in ["--workers", "--max-workers", "--model", "--dataset", "--epochs", "--batch-size", "--mode", "--curve-secret-key"] {
            #expect(argument(after: flag, in: first) == argument(after: flag, in: second), "\(flag): shard 1 \(first), shard 2 \(second)")
        }
        let claims = ((((secondJob["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])?["volumes"] as? [[String: Any]] ?? [])
            .compactMap { ($0["persistentVolumeClaim"] as? [String: Any])?["claimName"] as? String }
        #expect(claims.contains("trainer-state-2") && !claims.contains("trainer-state"), "shard 2's state volume: \(claims)")
        #expect(documents.contains { $0.document["kind"] as? String == "PersistentVolumeClaim" && ($0.document["metadata"] as? [String: Any])?["name"] as? String == "trainer-state-2" })
        // The second address of SHARDS is a Service on port 5555 that selects shard 2's pod.
        let service = try #require(documents.first { $0.document["kind"] as? String == "Service" && ($0.document["metadata"] as? [String: Any])?["name"] as? String == "trainer-server-2" }?.document)
        let spec = try #require(service["spec"] as? [String: Any])
        #expect((spec["ports"] as? [[String: Any]] ?? []).contains { $0["port"] as? Int == 5555 })
        #expect((spec["selector"] as? [String: String])?["app.kubernetes.io/component"] == "server-shard-2")
        // The shards/ folder is outside what `kubectl apply -f Deploy/kubernetes/` reads; the one-server layout stays as it was.
        let shardFiles = documents.filter { $0.file.hasPrefix("Deploy/kubernetes/shards/") }.map(\.file)
        #expect(!shardFiles.isEmpty && documents.filter { $0.document["kind"] as? String == "Job" && $0.file.hasPrefix("Deploy/kubernetes/shards/") }.count == 1, "\(shardFiles)")
        let (alone, _) = try await startServer(component: "server", configuration: shipped)
        #expect(!alone.contains("--shards") && !alone.contains("--shard"), "\(alone)")
    }

    @Test func everyTrainerCommandInTheKubernetesManifestsParses() throws {
        let documents = try Self.kubernetesDocuments()
        let configuration = try #require(documents.first { $0.document["kind"] as? String == "ConfigMap" }?.document["data"] as? [String: String])
        var parsed = 0
        for (file, document) in documents {
            for container in podContainers(of: document) {
                let environment = Self.environment(of: container, configuration: configuration, in: file)
                // The image's ENTRYPOINT is trainer: args alone are its arguments.
                let command = (container["command"] as? [Any])?.map { "\($0)" } ?? ["trainer"]
                let words = try (command + ((container["args"] as? [Any]) ?? []).map { "\($0)" }).map {
                    try DeployFiles.expandKubernetes($0, environment: environment)
                }
                parsed += try expectTrainerCommandParses(words, in: file)
                if environment["OPENBLAS_NUM_THREADS"] == nil { Issue.record("\(file): set OPENBLAS_NUM_THREADS in every trainer container") }
            }
        }
        #expect(parsed >= 3, "the server (new and resumed) and the workers")
    }
}
