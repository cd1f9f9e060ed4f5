import Foundation
import Testing
@testable import trainer
import Yams

/// The deployment files under Deploy/ are well formed, and every `trainer` command line in them parses with
/// the real command-line parser, so a renamed or removed flag fails here rather than on a cluster.
@Suite struct DeployFilesTests {
    // MARK: YAML

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
                let containers = try Self.containers(of: document, place: place)
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
        let jobs = documents.filter { $0["kind"] as? String == "Job" && (Self.labels(of: $0)["app.kubernetes.io/component"] == "worker") }
        #expect(jobs.count == 1, "one Job of workers")
        for job in jobs {
            let spec = try #require(job["spec"] as? [String: Any])
            #expect(spec["completionMode"] as? String == "Indexed")
            #expect(spec["completions"] as? Int == workers && spec["parallelism"] as? Int == workers,
                    "the workers' Job runs \(spec["completions"] ?? "?") (parallelism \(spec["parallelism"] ?? "?")), the server waits for WORKERS = \(workers)")
        }
    }

    @Test func everyTrainerCommandInTheKubernetesManifestsParses() throws {
        let documents = try Self.kubernetesDocuments()
        let configuration = try #require(documents.first { $0.document["kind"] as? String == "ConfigMap" }?.document["data"] as? [String: String])
        var parsed = 0
        for (file, document) in documents {
            for container in try Self.containers(of: document, place: file) {
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
                // The image's ENTRYPOINT is trainer: args alone are its arguments.
                let command = (container["command"] as? [Any])?.map { "\($0)" } ?? ["trainer"]
                let words = try (command + ((container["args"] as? [Any]) ?? []).map { "\($0)" }).map {
                    try DeployFiles.expandKubernetes($0, environment: environment)
                }
                parsed += try Self.expectParses(words, in: file)
                if environment["OPENBLAS_NUM_THREADS"] == nil { Issue.record("\(file): set OPENBLAS_NUM_THREADS in every trainer container") }
            }
        }
        #expect(parsed >= 3, "the server (new and resumed) and the workers")
    }

    // MARK: Compose

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
            parsed += try Self.expectParses(words, in: "compose.yaml services.\(name)")
        }
        #expect(parsed >= 3, "the server (new and resumed) and the worker")
    }

    // MARK: Shell scripts and Slurm

    /// The scripts under Deploy/: *.sh, *.sbatch, and files whose #! line names a shell.
    private static func shellScripts() -> [URL] {
        DeployFiles.files { url in
            if ["sh", "sbatch", "bash"].contains(url.pathExtension) { return true }
            guard let text = try? String(contentsOf: url, encoding: .utf8), text.hasPrefix("#!") else { return false }
            return text.prefix { $0 != "\n" }.hasSuffix("sh")
        }
    }

    @Test func everyShellScriptPassesBashN() async throws {
        let scripts = Self.shellScripts()
        let names = scripts.map(DeployFiles.relativePath)
        #expect(names.contains("Deploy/setup.sh") && names.contains("Deploy/slurm/train.sbatch") && names.contains("Deploy/start-server.sh"),
                "scripts found: \(names)")
        for script in scripts {
            let bash = try await runCommand("/bin/bash", ["-n", script.path])
            #expect(bash.status == 0, "bash -n \(DeployFiles.relativePath(script)): \(bash.stderr)")
            let firstLine = try String(contentsOf: script, encoding: .utf8).prefix { $0 != "\n" }
            if firstLine == "#!/bin/sh" {
                let sh = try await runCommand("/bin/sh", ["-n", script.path])
                #expect(sh.status == 0, "sh -n \(DeployFiles.relativePath(script)): \(sh.stderr)")
            }
        }
    }

    /// A folder of stand-ins for srun, scontrol and trainer: srun runs its command --ntasks times, scontrol
    /// names two nodes, and trainer writes its arguments to a file of its own in `calls`.
    private static func fakeSlurm(in folder: String, calls: String) throws {
        let scripts = [
            "srun": """
                #!/bin/bash
                tasks=1
                while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do
                    case "$1" in --ntasks=*) tasks=${1#--ntasks=} ;; esac
                    shift
                done
                for _ in $(seq "$tasks"); do "$@" & done
                wait
                """,
            "scontrol": """
                #!/bin/sh
                [ "$1 $2 $3" = "show hostnames node[1-2]" ] || { echo "scontrol: unexpected $*" >&2; exit 2; }
                printf 'node1\\nnode2\\n'
                """,
            "trainer": """
                #!/bin/sh
                printf '%s\\0' "$@" > "$(mktemp "\(calls)/call.XXXXXX")"
                """,
        ]
        for (name, text) in scripts {
            let path = folder + "/" + name
            try (text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }
    }

    /// Runs Deploy/slurm/train.sbatch as Slurm would on a two-node allocation, with stand-ins for srun and trainer;
    /// returns the argument lists trainer was started with.
    private func runSbatch(extraEnvironment: [String: String] = [:], runDirectory: String) async throws -> (CommandRun, [[String]]) {
        let folder = temporaryPath("slurm")
        let bin = folder + "/bin", calls = folder + "/calls"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: calls, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.fakeSlurm(in: bin, calls: calls)
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = bin + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        for (name, value) in ["SLURM_JOB_NODELIST": "node[1-2]", "SLURM_NNODES": "2", "SLURM_NTASKS_PER_NODE": "2",
                              "SLURM_CPUS_PER_TASK": "3", "SLURM_JOB_ID": "77", "SLURM_SUBMIT_DIR": folder,
                              "RUN_DIR": runDirectory, "DATA_DIR": "/shared/datasets"] {
            environment[name] = value
        }
        environment.merge(extraEnvironment) { $1 }
        let script = DeployFiles.folder.appendingPathComponent("slurm/train.sbatch").path
        let run = try await runCommand("/bin/bash", [script], environment: environment, timeout: 60)
        let recorded = try FileManager.default.contentsOfDirectory(atPath: calls).sorted().map { name in
            try String(contentsOfFile: calls + "/" + name, encoding: .utf8).split(separator: "\0", omittingEmptySubsequences: false)
                .dropLast().map(String.init)
        }
        return (run, recorded)
    }

    @Test func theSlurmScriptStartsOneServerOnTheFirstNodeAndAWorkerPerTask() async throws {
        let runDirectory = temporaryPath("slurm-run")
        defer { try? FileManager.default.removeItem(atPath: runDirectory) }
        for curve in [false, true] {
            let (run, calls) = try await runSbatch(extraEnvironment: curve ? ["CURVE_DIR": "/shared/keys"] : [:], runDirectory: runDirectory)
            #expect(run.status == 0, "train.sbatch exited \(run.status): \(run.stderr)")
            let servers = calls.filter { $0.first == "server" }, workers = calls.filter { $0.first == "worker" }
            #expect(servers.count == 1 && workers.count == 4, "calls: \(calls)")
            for arguments in calls { try Self.expectParses(arguments, in: "Deploy/slurm/train.sbatch") }
            let server = try #require(servers.first)
            #expect(Self.value(of: "--workers", in: server) == "4", "2 nodes × 2 tasks: \(server)")
            #expect(Self.value(of: "--state-file", in: server) == runDirectory + "/server.state")
            #expect(Self.value(of: "--threads", in: server) == "3")
            for worker in workers {
                #expect(Self.value(of: "--connect", in: worker) == "tcp://node1:5555")
                #expect(Self.value(of: "--threads", in: worker) == "3")
                #expect((Self.value(of: "--curve-secret-key", in: worker) == "/shared/keys/worker.secret") == curve)
            }
            #expect((Self.value(of: "--authorized-keys", in: server) == "/shared/keys/workers.keys") == curve)
        }
        // With a state file from an earlier submission the server resumes it.
        try Data("state".utf8).write(to: URL(fileURLWithPath: runDirectory + "/server.state"))
        let (run, calls) = try await runSbatch(runDirectory: runDirectory)
        #expect(run.status == 0, "\(run.stderr)")
        let server = try #require(calls.first { $0.first == "server" })
        #expect(Self.value(of: "--resume", in: server) == runDirectory + "/server.state" && !server.contains("--workers"), "\(server)")
        try Self.expectParses(server, in: "Deploy/slurm/train.sbatch (resuming)")
    }

    @Test func startServerResumesWhenTheStateFileHoldsSomethingAndStartsANewRunOtherwise() async throws {
        let state = temporaryPath("start-server.state")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let script = DeployFiles.folder.appendingPathComponent("start-server.sh").path
        var environment = ProcessInfo.processInfo.environment
        environment["TRAINER"] = trainerExecutable().path
        // No state file: a new run with --state-file, which `--workers 0` stops at validation.
        let fresh = try await runCommand("/bin/sh", [script, state, "--workers", "0"], environment: environment)
        #expect(fresh.status != 0 && fresh.stderr.contains("--workers must be at least 1"), "\(fresh.stdout) \(fresh.stderr)")
        // A state file: --resume, which reads it and names it in the error.
        try Data("not a state".utf8).write(to: URL(fileURLWithPath: state))
        let resumed = try await runCommand("/bin/sh", [script, state, "--workers", "2"], environment: environment)
        #expect(resumed.status != 0 && resumed.stdout.contains("resuming from \(state)") && resumed.stderr.contains(state),
                "\(resumed.stdout) \(resumed.stderr)")
    }

    // MARK: systemd

    private static func systemdUnits() -> [URL] {
        DeployFiles.files { $0.pathExtension == "service" }
    }

    @Test func theSystemdUnitsAreWellFormedAndTheirCommandsParse() throws {
        let units = Self.systemdUnits()
        #expect(units.map(\.lastPathComponent) == ["trainer-server.service", "trainer-worker@.service"])
        let environment = try environmentFile(DeployFiles.folder.appendingPathComponent("systemd/trainer.env"))
        var parsed = 0
        for url in units {
            let name = DeployFiles.relativePath(url)
            let unit = try SystemdUnit(contentsOf: url)
            #expect(unit.value("Description", in: "Unit") != nil, "\(name): Description")
            #expect(unit.value("WantedBy", in: "Install") != nil, "\(name): [Install] WantedBy")
            for key in ["ExecStart", "User", "EnvironmentFile", "Restart", "KillSignal", "TimeoutStopSec", "NoNewPrivileges", "ProtectSystem", "PrivateTmp"] {
                #expect(unit.value(key, in: "Service") != nil, "\(name): [Service] \(key) once")
            }
            #expect(unit.value("KillSignal", in: "Service") == "SIGTERM", "\(name): the server saves its state on SIGTERM")
            #expect(unit.value("ProtectSystem", in: "Service") == "strict")
            #expect(unit.value("Restart", in: "Service") == "on-failure")
            let execStart = try #require(unit.value("ExecStart", in: "Service"))
            let words = try DeployFiles.systemdWords(execStart, environment: environment, instance: "1")
            parsed += try Self.expectParses(words, in: name)
            if url.lastPathComponent == "trainer-server.service" {
                let stateDirectory = try #require(unit.value("StateDirectory", in: "Service"))
                #expect(unit.values("ReadWritePaths", in: "Service").contains("%S/\(stateDirectory)"), "\(name): ReadWritePaths for the state")
                #expect(words.contains { $0.hasPrefix("/var/lib/\(stateDirectory)/") }, "\(name): the state goes to the state directory")
            }
        }
        #expect(parsed == 3, "the server (new and resumed) and the worker")
    }

    @Test(.enabled(if: executableOnPath("systemd-analyze") != nil, "systemd-analyze is not installed: `systemd-analyze verify` of Deploy/systemd/ skipped"))
    func systemdAnalyzeVerifiesTheUnits() async throws {
        let analyze = try #require(executableOnPath("systemd-analyze"))
        let folder = temporaryPath("systemd")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var paths: [String] = []
        for url in Self.systemdUnits() {
            let path = folder + "/" + url.lastPathComponent.replacingOccurrences(of: "@.", with: "@1.")
            try FileManager.default.copyItem(atPath: url.path, toPath: path)
            paths.append(path)
        }
        let run = try await runCommand(analyze, ["verify"] + paths)
        // The programs are installed on the hosts, not here: only that complaint is expected.
        let complaints = (run.stdout + run.stderr).split(separator: "\n").filter { line in
            !(line.contains("/usr/local/bin/") && line.contains("is not executable: No such file or directory"))
        }
        #expect(complaints.isEmpty, "systemd-analyze verify: \(complaints.joined(separator: "\n"))")
    }

    // MARK: Dockerfile

    private static func dockerfile() throws -> String {
        try String(contentsOf: DeployFiles.folder.appendingPathComponent("Dockerfile"), encoding: .utf8)
    }

    /// The Dockerfile's RUN instructions, continuation lines joined, comments dropped.
    private static func runInstructions() throws -> [String] {
        var instructions: [String] = [], current: String?
        for line in try dockerfile().components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("#") { continue }
            if current == nil {
                guard trimmed.hasPrefix("RUN ") else { continue }
                current = String(trimmed.dropFirst(4))
            } else {
                current! += " " + trimmed
            }
            if current!.hasSuffix("\\") {
                current!.removeLast()
            } else {
                instructions.append(current!)
                current = nil
            }
        }
        return instructions
    }

    /// The packages of each `apt-get install` in the Dockerfile: (the stage's index, packages).
    private static func installedPackages() throws -> [[String]] {
        try runInstructions().flatMap { instruction in
            instruction.components(separatedBy: "&&").compactMap { command -> [String]? in
                let words = command.split(separator: " ").map(String.init)
                guard let install = words.firstIndex(of: "install"), install > 0, words[install - 1] == "apt-get" || words[..<install].contains("apt-get")
                else { return nil }
                return words[(install + 1)...].filter { !$0.hasPrefix("-") && $0 != ";" }
            }
        }
    }

    /// The ARG defaults and the FROM images, in order.
    private static func baseImages() throws -> [String] {
        var arguments: [String: String] = [:], images: [String] = []
        for line in try dockerfile().components(separatedBy: "\n") {
            let words = line.split(separator: " ").map(String.init)
            if words.first == "ARG", words.count == 2, let equals = words[1].firstIndex(of: "=") {
                arguments[String(words[1][..<equals])] = String(words[1][words[1].index(after: equals)...])
            } else if words.first == "FROM", words.count >= 2 {
                images.append(try DeployFiles.substitute(#"\$\{([A-Za-z_]+)\}"#, in: words[1]) { arguments[$0[1] ?? ""] ?? "?" })
            }
        }
        return images
    }

    @Test func theDockerfileBuildsOnTheDocumentedImagesAndRunsTrainer() throws {
        let images = try Self.baseImages()
        #expect(images == ["swift:6.3.1-bookworm", "debian:bookworm-slim"], "FROM: \(images)")
        let guide = try String(contentsOf: DeployFiles.root.appendingPathComponent("docs/deploy.md"), encoding: .utf8)
        for image in images { #expect(guide.contains(image), "docs/deploy.md does not name \(image)") }
        let text = try Self.dockerfile()
        #expect(text.contains(#"ENTRYPOINT ["trainer"]"#) && text.contains("EXPOSE 5555") && text.contains("USER trainer"))
        #expect(text.contains("--product trainer") && text.contains("--static-swift-stdlib"))
        let packages = try Self.installedPackages()
        #expect(packages.count == 2, "one apt-get install per stage: \(packages)")
        #expect(Set(packages.first ?? []).isSuperset(of: ["libzmq3-dev", "libopenblas-dev", "zlib1g-dev", "pkg-config"]))
        #expect(Set(packages.last ?? []).isSuperset(of: ["libzmq5", "zlib1g"]) && !(packages.last ?? []).contains { $0.hasSuffix("-dev") },
                "the runtime stage installs runtime libraries only: \(packages.last ?? [])")
    }

    private static var isDebianBookworm: Bool {
        ((try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? "").contains("VERSION_CODENAME=bookworm")
    }

    @Test(.enabled(if: executableOnPath("apt-cache") != nil && isDebianBookworm,
                   "needs apt-cache on Debian bookworm to check the Dockerfile's package names; skipped"))
    func theDockerfileInstallsOnlyPackagesDebianBookwormHas() async throws {
        let aptCache = try #require(executableOnPath("apt-cache"))
        let packages = Set(try Self.installedPackages().flatMap { $0 })
        #expect(packages.count >= 8)
        // One look-up for all: apt-cache prints the records it finds and complains about the others.
        let show = try await runCommand(aptCache, ["show", "--no-all-versions"] + packages.sorted())
        let found = Set(show.stdout.split(separator: "\n").filter { $0.hasPrefix("Package: ") }.map { String($0.dropFirst("Package: ".count)) })
        for package in packages.sorted() {
            #expect(found.contains(package),
                    "apt-cache show \(package): not a Debian bookworm package (or the package lists are missing: apt-get update). \(show.stderr)")
        }
    }

    @Test(.enabled(if: executableOnPath("readelf") != nil && executableOnPath("dpkg") != nil && executableOnPath("ldd") != nil,
                   "needs readelf, ldd and dpkg to map the trainer's libraries to Debian packages; skipped"))
    func theRuntimeImageInstallsThePackageOfEveryLibraryTheTrainerLinks() async throws {
        let trainer = trainerExecutable().path
        let runtime = Set(try #require(try Self.installedPackages().last))
        let needed = try await runCommand(try #require(executableOnPath("readelf")), ["-d", trainer])
        let names = needed.stdout.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("(NEEDED)"), let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]") else { return nil }
            return String(line[line.index(after: open)..<close])
        }
        #expect(names.contains("libzmq.so.5"), "readelf -d \(trainer): \(names)")
        let resolved = try await runCommand(try #require(executableOnPath("ldd")), [trainer])
        var paths: [String: String] = [:]
        for line in resolved.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ").map(String.init)
            if parts.count >= 3, parts[1] == "=>" { paths[parts[0].trimmingCharacters(in: .whitespaces)] = parts[2] }
        }
        for name in names where !name.hasPrefix("ld-linux") {
            // The Swift runtime (libswiftCore, libFoundation…) is linked statically in the image; FoundationNetworking needs libcurl.
            if name.hasPrefix("libFoundationNetworking") { #expect(runtime.contains("libcurl4"), "FoundationNetworking needs libcurl4"); continue }
            let path = try #require(paths[name], "ldd \(trainer) does not resolve \(name)")
            // dpkg knows a file by the path its package installed, /lib/… or /usr/lib/… (merged /usr), link or target.
            let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            var candidates = [path, real]
            candidates += candidates.filter { $0.hasPrefix("/usr/") }.map { String($0.dropFirst(4)) }
            var owner = CommandRun(status: 1, stdout: "", stderr: "")
            for candidate in candidates where owner.status != 0 {
                owner = try await runCommand(try #require(executableOnPath("dpkg")), ["-S", candidate])
            }
            if owner.status != 0 {
                #expect(name.hasPrefix("libswift") || name.hasPrefix("libFoundation") || name.hasPrefix("lib_Foundation")
                        || name.hasPrefix("libdispatch") || name.hasPrefix("libBlocksRuntime"),
                        "\(name) (\(real)) belongs to no Debian package and is not the Swift runtime")
                continue
            }
            let package = String(owner.stdout.prefix { $0 != ":" })
            #expect(runtime.contains(package), "the trainer links \(name) from \(package), which the Dockerfile's runtime stage does not install")
        }
    }

    // MARK: Helpers

    private static func labels(of document: [String: Any]) -> [String: String] {
        (document["metadata"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
    }

    private static func containers(of document: [String: Any], place: String) throws -> [[String: Any]] {
        let podSpec = ((document["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
        return podSpec?["containers"] as? [[String: Any]] ?? []
    }

    /// The word after `flag` in `arguments`.
    private static func value(of flag: String, in arguments: [String]) -> String? {
        arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
    }

    /// Parses the `trainer` command lines in `words` with the real parser; returns how many there were.
    @discardableResult
    private static func expectParses(_ words: [String], in place: String) throws -> Int {
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
}

struct DeployFileError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
