import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A stranger holding idle TCP connections to a server with few file descriptors: the server says
/// it cannot accept connections, closes the idle ones after the handshake interval, and its workers
/// still get in and train. The server spins while out of descriptors, so this runs alone (`RunAlone`).
@Suite(.enabled(if: RunAlone.isThisRun, RunAlone.skipped)) struct DescriptorFloodTests {
    /// Open TCP connections that never send a byte, closed together.
    final class IdleConnections {
        private(set) var descriptors: [Int32] = []

        /// Connects `count` sockets to 127.0.0.1:`port` (the kernel completes them from the listen
        /// backlog whether or not the server accepts them).
        init(count: Int, port: UInt16) {
            for _ in 0..<count {
                let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                guard descriptor >= 0 else { break }
                var flags = fcntl(descriptor, F_GETFL)
                flags |= O_NONBLOCK
                _ = fcntl(descriptor, F_SETFL, flags)
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = port.bigEndian
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                _ = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                descriptors.append(descriptor)
            }
        }

        deinit { for descriptor in descriptors { close(descriptor) } }
    }

    @Test(.timeLimit(.minutes(4)))
    func idleConnectionsBeyondTheLimitAreLoggedAndDoNotKeepWorkersOut() async throws {
        // Both limits at 128 descriptors: the server cannot raise its soft limit past them.
        let server = try RunningTrainer(["server", "--bind", "tcp://127.0.0.1:*", "--workers", "2", "--mode", "sync",
                                         "--dataset", "xor", "--batch-size", "2", "--epochs", "200", "--join-timeout", "150"],
                                        launcher: ["/usr/bin/prlimit", "--nofile=128:128", "--"])
        let endpoint = try await server.awaitOutput(matching: #"listening on (tcp://127\.0\.0\.1:[0-9]+)"#, timeout: 60)
        let port = try #require(UInt16(endpoint.split(separator: ":").last ?? ""))
        #expect(server.stderr.contains("the open-file limit is 128"), "the server warns of its low limit: \(server.stderr)")

        // More idle connections than the server has descriptors.
        var flood: IdleConnections? = IdleConnections(count: 200, port: port)
        #expect(flood!.descriptors.count == 200)
        let refusal = try await server.awaitError(matching: #"(could not accept a connection on tcp://[^ ]+: Too many open files)"#, timeout: 60)
        #expect(!refusal.isEmpty)

        // The workers connect while the flood still holds its sockets; the server closes the idle
        // connections it accepted once their handshake interval (10 s) is over, and the workers get in.
        let workers = try (0..<2).map { _ in
            try RunningTrainer(["worker", "--connect", endpoint, "--threads", "1", "--timeout", "120"])
        }
        var runs: [TrainerRun] = []
        for worker in workers { runs.append(try await worker.finish(timeout: 180)) }
        runs.append(try await server.finish(timeout: 60))
        flood = nil
        for run in runs { #expect(run.exitedNormally && run.status == 0, "\(run.stderr)") }
        #expect(runs[2].stdout.contains("Accuracy of the network on the 4 test samples"), "\(runs[2].stdout)")
        #expect(runs[2].stderr.contains("the open-file limit is 128: connections that do not finish their handshake"),
                "the refusal names the limit: \(runs[2].stderr)")
    }
}
