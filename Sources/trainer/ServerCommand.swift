import ArgumentParser
import Cluster
import Datasets
import Engine
import Foundation
import Logging
import MetricsEndpoint
import Reports
import ZeroMQ

/// `trainer server`: the parameter server alone, for workers in other processes or on other hosts.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the parameter server: wait for N workers, train, report each epoch, tell the workers to stop.",
        discussion: """
            Workers need only the address and their data folder: `trainer worker --connect tcp://HOST:5555`. They \
            receive the model, the data set's name and the hyper-parameters from the server, and a worker whose data \
            differs from the server's is refused. --batch-size is per worker (global batch = workers × batch size). \
            The server loads the data set too: it checks the workers' data against it and evaluates the weights on \
            its test set after every epoch, writing --metrics and --checkpoint like `trainer train`. \
            With --shards and --shard, several servers each own a share of the parameters: start one per address, \
            with the same flags; workers connect to shard 1.
            """
    )

    @OptionGroup var options: TrainingOptions
    @OptionGroup var cluster: ClusterOptions
    @OptionGroup var sharding: ShardOptions
    @OptionGroup var metricsEndpoint: MetricsEndpointOptions
    @OptionGroup var logging: LoggingOptions

    @Option(help: "The ZeroMQ endpoint to listen on, e.g. tcp://*:5555 (all interfaces) or tcp://127.0.0.1:5555.")
    var bind: String = "tcp://127.0.0.1:5555"

    @OptionGroup var curve: CurveSecretKeyOptions

    @Option(help: "The workers' public keys, one per line (# comments); only these may join (with --curve-secret-key).")
    var authorizedKeys: String?

    @Option(help: "Write the server's whole state (weights, optimiser, step, epoch progress) to this file, durably, every --checkpoint-every steps, at each epoch end and when stopped by a signal (async mode: every --checkpoint-every gradients, with each rank's step).")
    var stateFile: String?

    @Option(parsing: .unconditional, help: "Steps between state files (with --state-file; each epoch end writes one too).")
    var checkpointEvery: Int = 500

    @Option(help: "Continue from a state file: its model, data set, hyper-parameters and worker count replace the training flags; workers reconnect on their own, and others may join.")
    var resume: String?

    func validate() throws {
        if checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be at least 1") }
        _ = try BindEndpoint(bind)
        if (curve.curveSecretKey == nil) != (authorizedKeys == nil) {
            throw ValidationError("--curve-secret-key and --authorized-keys go together: CURVE without a list of workers would admit any key")
        }
        if sharding.shard != nil, sharding.shards.isEmpty, resume == nil {
            throw ValidationError("--shard needs --shards, the addresses of every shard (or --resume with a shard's state file)")
        }
        if !sharding.shards.isEmpty, resume == nil, let reason = TrainingConfiguration.shardProblem(mode: cluster.mode, overlap: cluster.overlap) {
            throw ValidationError("--shards cannot be used \(reason)")
        }
        if sharding.isFollower {
            let outputs = [("--metrics", options.metrics), ("--checkpoint", options.checkpoint), ("--plot", options.plot)].filter { $0.1 != nil }
            if let (flag, _) = outputs.first {
                throw ValidationError("\(flag) goes to shard 1: shard \(sharding.index + 1) holds only its share of the weights, "
                                      + "and shard 1 evaluates each epoch and writes --metrics, --checkpoint and --plot")
            }
        }
    }

    func run() async throws {
        if let threads = options.threads { BLAS.setThreadCount(threads) }
        logging.bootstrap(verbose: cluster.verbose)
        try OutputPaths.check(options.outputs + [("--state-file", stateFile ?? resume)])
        // Before the server and the reporter make their metrics, which record into the endpoint's registry.
        let metricsServer = try await metricsEndpoint.start()
        let security = try serverSecurity()
        let listen = try BindEndpoint(bind)
        if let warning = OpenFileLimit.warning(limit: OpenFileLimit.raiseToHardLimit()) {
            Logger(label: "trainer").warning("\(warning)")
        }
        if security == nil, !listen.isLocal {
            let warning = "trainer server: warning: listening on \(bind) without CURVE: anyone who can reach "
                + "this port can join and push gradients; give --curve-secret-key and --authorized-keys (see trainer keygen)"
            Logger(label: "trainer").warning("\(warning)")
        }
        for output in [stateFile ?? resume, options.checkpoint].compactMap({ $0 }) {
            for leftover in DurableFile.removeLeftovers(of: output) {
                print("Removed \(leftover), a partial write left by a process that was killed")
            }
        }
        let state = try resume.map { try ServerState(contentsOf: $0) }
        if let state, let resume, state.epoch >= state.configuration.epochs {
            print("The run saved in \(resume) is complete (\(state.configuration.epochs) epochs, step \(state.step)); nothing to resume")
            return
        }
        let cluster = state.map(resumedCluster) ?? self.cluster
        // The metrics file's earlier epochs, read before this run appends to it, count in the run's totals.
        let earlier = state.flatMap { state in
            options.metrics.flatMap { try? MetricsHistory(contentsOf: $0) }?.totals(throughEpoch: state.epoch)
        }
        let job = try ClusterJob(options: options, cluster: cluster, resuming: state?.configuration, shards: sharding.shards)
        if let state, let resume { try checkShards(of: state, in: resume, parameterCount: job.model.parameterCount) }
        if let earlier { job.reporter.carryOver(seconds: earlier.seconds, samples: earlier.samples) }
        let context = try Context()
        // Released last, after the sockets are closed: ending the context delivers their last messages
        // (stop, error) within their linger before the process exits.
        defer { withExtendedLifetime(context) {} }
        let server: ParameterServer
        do {
            server = try job.makeServer(context: context, bind: listen.endpoint, cluster: cluster, security: security,
                                        stateFile: stateFile ?? resume, checkpointEvery: checkpointEvery, resume: state,
                                        shardIndex: sharding.index)
        } catch let error as ZMQError {
            job.reporter.failed(reason: "cannot listen on \(bind): \(error)")
            throw CLIError("cannot listen on \(bind): \(error)")
        } catch let error as ClusterError {
            job.reporter.failed(reason: "\(resume ?? "server"): \(error)")
            throw CLIError("\(resume ?? "server"): \(error)")
        }
        if let state {
            print("Resuming from \(resume!) at step \(state.step) (\(state.updates) updates)")
        }
        print(job.banner(workers: cluster.workers, place: "listening on \(server.endpoint)"
                         + (security.map { " with CURVE, admitting \($0.authorizedKeys.count) worker key\($0.authorizedKeys.count == 1 ? "" : "s")" } ?? "")))
        // A wildcard bind reports 0.0.0.0, which a worker on another host cannot connect to: name this host instead.
        let address = server.endpoint.replacingOccurrences(of: "//0.0.0.0:", with: "//\(ProcessInfo.processInfo.hostName):")
        let shards = job.configuration.shards
        let connect = shards.first ?? address
        if !shards.isEmpty {
            let range = server.shardRange
            print("Shard \(server.shardIndex + 1) of \(shards.count) (\(shards[server.shardIndex])): parameters \(range.lowerBound)..<\(range.upperBound) "
                  + "of \(job.model.parameterCount)" + (server.shardIndex > 0 ? "; sends its share to shard 1 (\(shards[0])) at each epoch's end" : ""))
        }
        print("Waiting up to \(String(format: "%g", cluster.joinTimeout)) s for \(cluster.workers) worker\(cluster.workers == 1 ? "" : "s"): "
              + "trainer worker --connect \(connect)")
        fflush(nil)
        let signals = StopSignals(stopping: server)
        defer { signals.cancel() }
        let weights: [Float]
        do {
            weights = try await server.run()
        } catch {
            await server.close()
        await metricsServer?.stop()
            job.display?.clear()
            job.reporter.failed(reason: "\(error)")
            throw CLIError("training stopped: \(error)")
        }
        await server.close()
        await metricsServer?.stop()
        job.display?.clear()
        if server.shardIndex > 0 {
            let updates = await server.completedUpdates
            print(server.stoppedBy.map { "Shard \(server.shardIndex + 1): stopped by \($0) after \(updates) updates" }
                  ?? "Shard \(server.shardIndex + 1): done after \(updates) updates")
            return
        }
        guard try await job.conclude(server, weights: weights) else { return }
        for (rank, statistics) in job.reporter.rankTotals.enumerated() {
            let wait = cluster.mode == .sync || cluster.mode == .localSGD ? String(format: ", waited %.2f s for the other workers", statistics.waitSeconds) : ""
            print("Worker \(rank): \(statistics.pushes) steps, \(statistics.samples) samples\(wait)")
        }
    }

    /// Throws unless the shard flags fit the state file `path` holds: a shard's state needs the same
    /// --shard (its share's length tells), and --shards, if given, must list the saved addresses.
    private func checkShards(of state: ServerState, in path: String, parameterCount total: Int) throws {
        let saved = state.configuration.shards
        if !sharding.shards.isEmpty, sharding.shards != saved {
            throw CLIError("--resume \(path): the run was saved with " + (saved.isEmpty ? "one server" : "--shards \(saved.joined(separator: ","))")
                           + ", not --shards \(sharding.shards.joined(separator: ",")); leave --shards out to keep the saved ones")
        }
        guard !saved.isEmpty else {
            if sharding.shard != nil { throw CLIError("--resume \(path) is the state of a run with one server: leave --shard out") }
            return
        }
        guard let shard = sharding.shard else {
            throw CLIError("--resume \(path) is the state of one of \(saved.count) server shards: give --shard, which one (1…\(saved.count))")
        }
        guard (1...saved.count).contains(shard) else { throw CLIError("--shard must lie in 1…\(saved.count), the shards of the run saved in \(path)") }
        let share = ShardLayout.range(of: shard - 1, shards: saved.count, count: total).count
        if share != state.weights.count {
            let owner = (1...saved.count).first { ShardLayout.range(of: $0 - 1, shards: saved.count, count: total).count == state.weights.count }
            throw CLIError("--resume \(path) holds \(state.weights.count) parameters, and shard \(shard)'s share is \(share)"
                           + (owner.map { ": it looks like shard \($0)'s state" } ?? ""))
        }
    }

    /// The CURVE settings from the key files, if given.
    private func serverSecurity() throws -> ServerSecurity? {
        guard let curveSecretKey = curve.curveSecretKey, let authorizedKeys else { return nil }
        let secret = try CurveKeyFile.keyPair(secretFile: curveSecretKey).secretKey
        let keys: AuthorizedKeys
        do {
            keys = try AuthorizedKeys(contentsOfFile: authorizedKeys)
        } catch {
            throw CLIError("\(error)")
        }
        if keys.isEmpty { throw CLIError("\(authorizedKeys) lists no public keys: no worker could join") }
        return ServerSecurity(secretKey: secret, authorizedKeys: keys)
    }

    /// The cluster flags a state file implies: its worker count and mode; the timeouts and the display stay as given.
    private func resumedCluster(from state: ServerState) -> ClusterOptions {
        var cluster = self.cluster
        cluster.workers = state.worldSize
        cluster.mode = state.configuration.mode
        cluster.staleness = state.configuration.staleness
        cluster.syncEvery = state.configuration.syncEvery
        (cluster.outerLr, cluster.outerMomentum) = (state.configuration.outerOptimizer?.learningRate, state.configuration.outerOptimizer?.momentum)
        if let maxWorkers = cluster.maxWorkers { cluster.maxWorkers = max(maxWorkers, state.worldSize) }
        return cluster
    }
}
