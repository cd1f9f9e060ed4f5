import Foundation
import Testing

/// Deploy/Dockerfile: the documented base images, packages that Debian bookworm has, and every library
/// the trainer links.
@Suite struct DockerfileTests {
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
}
