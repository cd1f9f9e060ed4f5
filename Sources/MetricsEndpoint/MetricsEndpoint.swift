import FlyingFox
import FlyingSocks
import Foundation
import Metrics
import Prometheus
import Synchronization

/// An HTTP server that serves the process's swift-metrics on `/metrics` in the Prometheus text format.
///
/// The first endpoint bootstraps swift-metrics with a Prometheus registry (a process has one metrics
/// system); every endpoint serves that registry.
public final class MetricsEndpoint: Sendable {
    /// The registry every endpoint serves, which swift-metrics records into once an endpoint started.
    public static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped = Mutex(false)

    /// The address the server listens on, as given.
    public let address: String
    /// The port it listens on (the one the system picked when 0 was given).
    public let port: UInt16
    private let server: HTTPServer
    private let task: Task<Void, any Error>

    private init(address: String, port: UInt16, server: HTTPServer, task: Task<Void, any Error>) {
        self.address = address
        self.port = port
        self.server = server
        self.task = task
    }

    /// Listens on `address` (an IPv4 address; 0.0.0.0 for every interface) and `port` (0: any free
    /// port), with `histogramBuckets` by metric label; throws `MetricsEndpointError` naming both when it cannot.
    public static func start(address: String, port: UInt16, histogramBuckets: [String: [Double]] = [:],
                             timeout: Duration = .seconds(5)) async throws -> MetricsEndpoint {
        let socketAddress: sockaddr_in
        do {
            socketAddress = try .inet(ip4: address, port: port)
        } catch {
            throw MetricsEndpointError(address: address, port: port, reason: "not an IPv4 address")
        }
        bootstrap(histogramBuckets: histogramBuckets)
        let server = HTTPServer(address: socketAddress, timeout: 15, logger: .disabled)
        await server.appendRoute("GET /metrics") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: Data(registry.emitToBuffer()))
        }
        let failure = StartFailure()
        let task = Task {
            do {
                try await server.run()
            } catch {
                failure.set(error)
                throw error
            }
        }
        // Bounded: the server listens or fails at once; a stuck start is named after `timeout`.
        let deadline = ContinuousClock.now + timeout
        while !(await server.isListening) {
            if let error = failure.error {
                throw MetricsEndpointError(address: address, port: port, reason: describe(error))
            }
            guard ContinuousClock.now < deadline else {
                task.cancel()
                throw MetricsEndpointError(address: address, port: port, reason: "not listening after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        var bound = port
        if case .ip4(_, let listening)? = await server.listeningAddress { bound = listening }
        return MetricsEndpoint(address: address, port: bound, server: server, task: task)
    }

    /// The URL Prometheus scrapes (with this host's name for a wildcard address).
    public var url: String {
        let host = address == "0.0.0.0" ? ProcessInfo.processInfo.hostName : address
        return "http://\(host):\(port)/metrics"
    }

    /// Stops listening and waits for open connections to close.
    public func stop() async {
        await server.stop(timeout: 1)
        task.cancel()
    }

    /// Makes swift-metrics record into `registry`, once per process (later buckets are ignored).
    private static func bootstrap(histogramBuckets: [String: [Double]]) {
        bootstrapped.withLock { done in
            guard !done else { return }
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.valueHistogramBuckets = histogramBuckets
            MetricsSystem.bootstrap(factory)
            done = true
        }
    }

    private static func describe(_ error: any Error) -> String {
        if case .failed(let call, let number, let message) = error as? SocketError {
            return "\(call.lowercased()) failed: \(message.lowercased()) (errno \(number))"
        }
        return "\(error)"
    }
}

/// The reason a metrics endpoint could not start, naming its address and port.
public struct MetricsEndpointError: Error, CustomStringConvertible {
    /// The address it was to listen on.
    public let address: String
    /// The port it was to listen on.
    public let port: UInt16
    /// What went wrong.
    public let reason: String

    public var description: String { "cannot serve metrics on \(address):\(port): \(reason)" }
}

/// The error a server's run ended with, handed from its task to the start-up loop.
private final class StartFailure: @unchecked Sendable {
    // Unchecked: `stored` is guarded by `lock`.
    private let lock = NSLock()
    private var stored: (any Error)?

    var error: (any Error)? { lock.withLock { stored } }

    func set(_ error: any Error) { lock.withLock { stored = error } }
}
