import Foundation
import TestSupport

/// Separate hosts for tests: network namespaces, each with its own address and `lo` up, joined by veth
/// pairs to a bridge in a namespace of its own, so the root namespace's network is never touched. Needs root.
///
/// Names carry the test process's id, so parallel runs do not clash and leftovers of a run that died
/// can be told apart and removed by the next run. Deleting a namespace deletes the veth ends in it and
/// their peers, so removing the namespaces removes everything made.
final class NetworkNamespaces: Sendable {
    /// What every namespace this type makes is called first.
    static let prefix = "trainer-test-"

    /// The hosts' namespace names, in order.
    let hosts: [String]
    /// The namespace holding the bridge `br0` and the bridge ends `port0`, `port1`, … of the links.
    let bridge: String
    /// Each host's IPv4 address (on `eth0`, prefix length 24), in order.
    let addresses: [String]

    private init(stem: String, count: Int, subnet: String) {
        hosts = (0..<count).map { "\(stem)host\($0)" }
        bridge = "\(stem)bridge"
        addresses = (0..<count).map { "\(subnet).\($0 + 1)" }
    }

    /// Makes `count` hosts at `subnet`.1, `subnet`.2, … and runs `body` with them, then kills whatever
    /// still runs in them and removes them, whether `body` returns or throws.
    static func with<T>(hosts count: Int, subnet: String = "10.213.0",
                        _ body: (NetworkNamespaces) async throws -> T) async throws -> T {
        await removeLeftovers()
        let network = NetworkNamespaces(stem: "\(prefix)\(getpid())-", count: count, subnet: subnet)
        do {
            try await network.build()
            let result = try await body(network)
            await network.remove()
            return result
        } catch {
            await network.remove()
            throw error
        }
    }

    /// Whether this process may make a network namespace: it runs as root and `ip netns add` works (else says why).
    static func canCreate() async -> Bool {
        guard getuid() == 0 else { return false }
        let probe = "\(prefix)\(getpid())-probe"
        guard let added = try? await command(["ip", "netns", "add", probe]) else { return false }
        if added.status != 0 {
            FileHandle.standardError.write(Data("NetworkNamespaces: `ip netns add \(probe)` failed: \(added.output)\n".utf8))
            return false
        }
        _ = try? await command(["ip", "netns", "del", probe])
        return true
    }

    /// The command line that runs a program in host `index`'s namespace (`ip netns exec`, which execs the
    /// program itself, so its process id is the program's).
    func launcher(host index: Int) -> [String] {
        ["/usr/bin/env", "ip", "netns", "exec", hosts[index]]
    }

    /// Shapes both directions of every host's link with a token bucket filter: the egress of the host's
    /// `eth0` and of its bridge end.
    func shape(rate: String, burst: String, latency: String) async throws {
        let tbf = ["root", "tbf", "rate", rate, "burst", burst, "latency", latency]
        for (index, host) in hosts.enumerated() {
            try await Self.require(["tc", "-n", host, "qdisc", "replace", "dev", "eth0"] + tbf)
            try await Self.require(["tc", "-n", bridge, "qdisc", "replace", "dev", "port\(index)"] + tbf)
        }
    }

    /// The bytes host `index`'s `eth0` qdisc has sent (`tc -s`), with the qdisc's description.
    func sentBytes(host index: Int) async throws -> (bytes: Int, qdisc: String) {
        let text = try await Self.require(["tc", "-s", "-n", hosts[index], "qdisc", "show", "dev", "eth0"])
        guard let match = text.firstMatch(of: /Sent (\d+) bytes/), let bytes = Int(match.1) else {
            throw NetworkError("no byte count in `tc -s qdisc show` of \(hosts[index]): \(text)")
        }
        return (bytes, text)
    }

    /// Whether host `from` reaches host `to` over tcp: a connection to a closed port there must be refused
    /// (answered by the other kernel) within `seconds`, rather than time out or find no route.
    func tcpProbe(from: Int, to: Int, seconds: Int = 5) async throws -> (reached: Bool, output: String) {
        let result = try await Self.command(["ip", "netns", "exec", hosts[from], "timeout", "\(seconds)", "bash", "-c",
                                             "exec 3<>/dev/tcp/\(addresses[to])/9"], timeout: TimeInterval(seconds + 10))
        return (result.output.contains("Connection refused"), result.output)
    }

    private func build() async throws {
        try await Self.require(["ip", "netns", "add", bridge])
        try await Self.require(["ip", "-n", bridge, "link", "add", "br0", "type", "bridge"])
        try await Self.require(["ip", "-n", bridge, "link", "set", "br0", "up"])
        for (index, host) in hosts.enumerated() {
            try await Self.require(["ip", "netns", "add", host])
            try await Self.require(["ip", "-n", bridge, "link", "add", "port\(index)", "type", "veth",
                                    "peer", "name", "eth0", "netns", host])
            try await Self.require(["ip", "-n", bridge, "link", "set", "port\(index)", "master", "br0", "up"])
            try await Self.require(["ip", "-n", host, "addr", "add", "\(addresses[index])/24", "dev", "eth0"])
            try await Self.require(["ip", "-n", host, "link", "set", "eth0", "up"])
            try await Self.require(["ip", "-n", host, "link", "set", "lo", "up"])
        }
    }

    /// Kills every process left in the namespaces (`ip netns del` would not) and deletes them.
    private func remove() async {
        for name in hosts + [bridge] { await Self.delete(name) }
    }

    /// Deletes the namespaces with this type's prefix whose test process is gone.
    private static func removeLeftovers() async {
        guard let list = try? await command(["ip", "netns", "list"]), list.status == 0 else { return }
        for line in list.output.split(separator: "\n") {
            let name = String(line.prefix { $0 != " " })
            guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { await delete(name) }
        }
    }

    private static func delete(_ name: String) async {
        guard FileManager.default.fileExists(atPath: "/run/netns/\(name)") else { return }
        if let pids = try? await command(["ip", "netns", "pids", name]) {
            for pid in pids.output.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }
        if let deleted = try? await command(["ip", "netns", "del", name]), deleted.status != 0 {
            FileHandle.standardError.write(Data("NetworkNamespaces: `ip netns del \(name)` failed: \(deleted.output)\n".utf8))
        }
    }

    /// Runs `arguments` (found on PATH) and returns its standard output, or throws with its output if it fails.
    @discardableResult
    private static func require(_ arguments: [String]) async throws -> String {
        let result = try await command(arguments)
        guard result.status == 0 else {
            throw NetworkError("`\(arguments.joined(separator: " "))` exited \(result.status): \(result.output)")
        }
        return result.output
    }

    /// Runs `arguments` (found on PATH) to its end, killing it after `timeout` seconds; standard output and
    /// error together. Waits with `Task.sleep`, never blocking a thread of the cooperative pool.
    private static func command(_ arguments: [String], timeout: TimeInterval = 20) async throws -> (status: Int32, output: String) {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let outputFile = temporaryPath("command")
        _ = FileManager.default.createFile(atPath: outputFile, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outputFile) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw NetworkError("`\(arguments.joined(separator: " "))` did not finish within \(timeout) s")
        }
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "")
    }
}

/// A namespace, link or command that failed, with the command and its output.
struct NetworkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
