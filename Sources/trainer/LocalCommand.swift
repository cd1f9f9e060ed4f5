import ArgumentParser
import Cluster
import Datasets
import Engine
import Foundation
import Logging
import MetricsEndpoint
import ZeroMQ

/// `trainer local`: a parameter server and N workers in this process, talking over ZeroMQ sockets or
/// the direct in-process transport.
struct LocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Train with a parameter server and N workers in this process, over ZeroMQ or directly.",
        discussion: """
            --batch-size is per worker, as in DDP: the global batch is workers × batch size, and sync training with \
            N workers of batch b gives the weights one process gets with batch N·b. Each worker uses one BLAS \
            thread, so N workers share the cores without oversubscribing them. The server evaluates the weights on \
            the test set after every epoch; at the end every worker reports where its time went. With --transport \
            direct the same protocol messages go from actor to actor without sockets.
            """
    )

    /// How the server and the workers talk.
    enum Transport: String, CaseIterable, ExpressibleByArgument {
        case inproc
        case ipc
        case tcp
        /// No socket: each message goes straight to the receiving actor's mailbox.
        case direct
    }

    @OptionGroup var options: TrainingOptions
    @OptionGroup var cluster: ClusterOptions
    @OptionGroup var metricsEndpoint: MetricsEndpointOptions
    @OptionGroup var logging: LoggingOptions

    @Option(help: "How the server and the workers talk: ZeroMQ over inproc, ipc or tcp (127.0.0.1, a port the OS picks), or direct (the same messages handed from actor to actor in this process, without sockets).")
    var transport: Transport = .inproc

    func run() async throws {
        // N workers share this process's cores: one BLAS thread each, so they do not oversubscribe them.
        BLAS.setThreadCount(options.threads ?? 1)
        logging.bootstrap(verbose: cluster.verbose)
        // Every worker's socket takes descriptors.
        OpenFileLimit.raiseToHardLimit()
        try OutputPaths.check(options.outputs)
        // Before the server and the reporter make their metrics, which record into the endpoint's registry.
        let metricsServer = try await metricsEndpoint.start()
        let job = try ClusterJob(options: options, cluster: cluster)
        let context = try Context()
        // Released last, after the sockets are closed: ending the context delivers their last messages
        // (stop, error) within their linger before the process exits.
        defer { withExtendedLifetime(context) {} }
        let endpoint = endpoint()
        defer { if transport == .ipc { unlink(String(endpoint.dropFirst("ipc://".count))) } }
        let direct = try transport == .direct ? DirectTransport(serving: "parameter-server") : nil
        let server = try direct.map { try job.makeServer(transport: $0, cluster: cluster) }
            ?? job.makeServer(context: context, bind: endpoint, cluster: cluster)
        let experiment = job.experiment, seed = options.seed
        let settings = Worker.Settings(heartbeatTimeout: .seconds(60))
        func makeWorker() throws -> Worker {
            let makeReplica: @Sendable (TrainingConfiguration) -> Replica = { _ in
                Replica(model: experiment.makeModel(seed: seed), trainingSet: experiment.train, testCount: experiment.test.count,
                        objective: experiment.objective)
            }
            if let direct {
                return Worker(transport: try DirectTransport(connectingTo: direct, name: "worker"), settings: settings, prepare: makeReplica)
            }
            return try Worker(context: context, connect: server.endpoint, settings: settings, prepare: makeReplica)
        }
        let workers = try (0..<cluster.workers).map { index in
            do {
                return try makeWorker()
            } catch {
                let reason = "cannot start worker \(index + 1) of \(cluster.workers): \(error)"
                job.reporter.failed(reason: reason)
                throw CLIError(reason)
            }
        }
        print(job.banner(workers: cluster.workers, place: "over \(transport.rawValue) (\(server.endpoint))"))
        fflush(nil)
        let signals = StopSignals(stopping: server)
        defer { signals.cancel() }
        let statistics: [WorkerStatistics]
        let weights = FinalWeights()
        do {
            statistics = try await withThrowingTaskGroup(of: WorkerStatistics?.self) { group in
                group.addTask { weights.set(try await server.run()); return nil }
                for worker in workers { group.addTask { try await worker.run() } }
                var finished: [WorkerStatistics] = []
                for try await result in group { if let result { finished.append(result) } }
                return finished
            }
        } catch {
            await server.close()
        await metricsServer?.stop()
            job.display?.clear()
            job.reporter.failed(reason: "\(error)")
            for worker in workers { await worker.close() }
            throw CLIError("training stopped: \(error)")
        }
        await server.close()
        await metricsServer?.stop()
        job.display?.clear()
        for worker in workers { await worker.close() }
        guard try await job.conclude(server, weights: weights.value) else { return }
        let waits = job.reporter.rankTotals
        for worker in statistics.sorted(by: { $0.rank < $1.rank }) {
            print(describe(worker, waitSeconds: (cluster.mode == .sync || cluster.mode == .localSGD) && worker.rank < waits.count ? waits[worker.rank].waitSeconds : nil))
        }
    }

    /// The server's address for the chosen transport; tcp lets the OS pick the port.
    private func endpoint() -> String {
        let process = ProcessInfo.processInfo.processIdentifier
        switch transport {
        case .inproc: return "inproc://trainer-server-\(process)"
        case .ipc: return "ipc://" + FileManager.default.temporaryDirectory.appendingPathComponent("trainer-\(process).sock").path
        case .tcp: return "tcp://127.0.0.1:*"
        case .direct: return "direct://parameter-server"
        }
    }
}

/// The server's final weights, handed out of the task group.
private final class FinalWeights: @unchecked Sendable {
    // Unchecked: `stored` is guarded by `lock`.
    private let lock = NSLock()
    private var stored: [Float] = []

    var value: [Float] { lock.withLock { stored } }

    func set(_ weights: [Float]) { lock.withLock { stored = weights } }
}
