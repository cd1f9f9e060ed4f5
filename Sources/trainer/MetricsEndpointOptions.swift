import ArgumentParser
import Cluster
import Foundation
import MetricsEndpoint

#if canImport(Glibc)
import Glibc
#endif

/// The flags of `trainer server` and `trainer local` that serve Prometheus metrics on `/metrics`.
struct MetricsEndpointOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Serve the run's metrics on http://ADDRESS:PORT/metrics in the Prometheus text format (step, epoch, rates, loss, test accuracy, world size, each rank's heartbeat age, steps, wait and staleness, bytes, dropped and rejected messages); 0 picks a free port.")
    var metricsPort: Int?

    @Option(help: "The IPv4 address the metrics endpoint listens on (with --metrics-port): 127.0.0.1 for this host only, 0.0.0.0 for every interface (a Prometheus on another host, a Kubernetes pod).")
    var metricsBind: String = "127.0.0.1"

    func validate() throws {
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be a number from 0 to 65535 (0 picks a free port)")
        }
        var address = in_addr()
        guard inet_pton(AF_INET, metricsBind, &address) == 1 else {
            throw ValidationError("--metrics-bind \(metricsBind) is not an IPv4 address (for example 127.0.0.1 or 0.0.0.0)")
        }
    }

    /// Starts the endpoint when --metrics-port is given, before anything records metrics, and prints its URL;
    /// throws naming the flag, address and port when it cannot listen.
    func start() async throws -> MetricsEndpoint? {
        guard let metricsPort else { return nil }
        let endpoint: MetricsEndpoint
        do {
            endpoint = try await MetricsEndpoint.start(address: metricsBind, port: UInt16(metricsPort),
                                                       histogramBuckets: [ServerMetricName.rankStaleness: ServerMetricName.stalenessBuckets])
        } catch {
            throw CLIError("--metrics-port \(metricsPort): \(error)")
        }
        print("Serving metrics on \(endpoint.url)")
        return endpoint
    }
}
