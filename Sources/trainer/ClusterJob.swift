import ArgumentParser
import Cluster
import Datasets
import Engine
import Foundation
import Logging
import ZeroMQ

/// The flags `trainer local` and `trainer server` add to the training flags.
struct ClusterOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "The number of workers; --batch-size is per worker, so the global batch is workers × batch size.")
    var workers: Int = 2

    @Option(help: "sync: every step averages one gradient per worker (equal to one process with the global batch); async: each gradient is applied as it arrives; ssp: as async, but no worker runs more than --staleness steps ahead of the slowest; local-sgd: each worker takes --sync-every optimiser steps on its own replica, then the server averages the weights' changes and applies the outer optimiser (DiLoCo), moving 1/H of sync's bytes.")
    var mode: TrainingMode = .sync

    @Option(parsing: .unconditional, help: "SSP mode: the most steps a worker may be ahead of the slowest worker before it waits (default: 3; 0 waits like sync).")
    var staleness: Int?

    @Option(help: ArgumentHelp("How each push (worker → server) is written: none (float32), bf16 or fp16 (half the bytes), or topk:FRACTION (only the FRACTION of the values largest in magnitude, 0 < FRACTION <= 1, e.g. topk:0.01: 8 bytes per value kept, 1/50 of the bytes). Lossy codecs keep error feedback: each worker adds what a push left out to its next one.", valueName: "codec"),
            transform: { try codecChoice($0, flag: "--compress") })
    var compress: CodecChoice = .none

    @Option(help: ArgumentHelp("How weights (server → worker) are written, with the names --compress takes (default: the --compress codec). With a codec other than none the server sends each step's change of the weights (a weights-delta) against a replica it mirrors, so nothing is lost, and whole weights after every epoch: each worker's replica then equals the server's weights bit for bit.", valueName: "codec"),
            transform: { try codecChoice($0, flag: "--compress-weights") })
    var compressWeights: CodecChoice?

    @Flag(help: "Workers push each layer's gradient as backward produces it (the last layers first, in parts of at least 64 KiB), so the transfer overlaps the rest of backward: for models whose large layers come last (the CNN's fc1) over slow links. Float32 pushes only (--compress none); not in local-sgd mode.")
    var overlap = false

    /// The codec of the weights: --compress-weights, else the one of --compress.
    var weightsCodec: CodecChoice { compressWeights ?? compress }
    @Option(parsing: .unconditional, help: "local-sgd mode: the optimiser steps each worker takes on its replica between pushes, H (default: \(Self.defaultSyncEvery)); a round ends early at an epoch's end. trainer server --checkpoint-every then counts rounds.")
    var syncEvery: Int?

    @Option(parsing: .unconditional, help: "local-sgd mode: the learning rate of the server's outer SGD, applied to the sample-weighted mean of the workers' weight changes (default: \(Self.defaultOuterOptimizer.learningRate); 1 with --outer-momentum 0 averages the replicas).")
    var outerLr: Float?

    @Option(parsing: .unconditional, help: "local-sgd mode: the outer SGD's Nesterov momentum (default: \(Self.defaultOuterOptimizer.momentum), plain SGD; DiLoCo uses 0.9 with --outer-lr 0.7).")
    var outerMomentum: Float?

    @Option(parsing: .unconditional, help: "Seconds a sync or SSP step may wait on one worker before the server names it as a straggler (log line and metrics event).")
    var stragglerThreshold: Double = 2

    @Option(help: "The largest gradient the server applies: 'relative' (default: 1000× the lower median of the last 64 applied gradients' L2 norms; before 8 are known, 1000× the smallest of the other workers' norms), 'relative:F' for F× instead, a number for a fixed L2 norm, or 'off'. Larger gradients are rejected and counted per rank (log line, the epoch's 'rejected').")
    var maxGradientNorm: GradientBound = .standard

    @Option(parsing: .unconditional, help: "Seconds to wait for all workers to join.")
    var joinTimeout: Double = 120

    @Option(parsing: .unconditional, help: "Seconds a step may take before the server gives up and names the missing workers.")
    var stepTimeout: Double = 120

    @OptionGroup var heartbeats: HeartbeatOptions

    @Option(parsing: .unconditional, help: "The most workers taking part at once: in sync and local-sgd mode workers may join at any time up to it (the global batch grows with them); default --workers. Async mode keeps --workers ranks.")
    var maxWorkers: Int?

    @Flag(help: "Trace every message sent and received (type, step and size, never the payload) on standard error.")
    var verbose = false

    @Flag(help: "Do not draw the live display (each worker's step, rate and last heartbeat, and the epoch's progress bar); it is drawn only when standard output is a terminal.")
    var noProgress = false

    func validate() throws {
        let most = ProtocolLimits.standard.maxWorldSize
        if workers < 1 { throw ValidationError("--workers must be at least 1") }
        if workers > most { throw ValidationError("--workers must be at most \(most), the most workers the protocol admits") }
        if let maxWorkers, maxWorkers > most {
            throw ValidationError("--max-workers must be at most \(most), the most workers the protocol admits")
        }
        if !(joinTimeout > 0 && stepTimeout > 0) { throw ValidationError("--join-timeout and --step-timeout must be positive") }
        if let maxWorkers, maxWorkers < workers { throw ValidationError("--max-workers must be at least --workers (\(workers))") }
        if let staleness {
            if mode != .ssp { throw ValidationError("--staleness is for --mode ssp (\(mode.rawValue) mode has no staleness bound)") }
            if !(0...TrainingConfiguration.maximumStaleness).contains(staleness) {
                throw ValidationError("--staleness must lie in 0…\(TrainingConfiguration.maximumStaleness) steps")
            }
        }
        if mode != .localSGD, syncEvery != nil || outerLr != nil || outerMomentum != nil {
            throw ValidationError("--sync-every, --outer-lr and --outer-momentum are for --mode local-sgd (\(mode.rawValue) mode has no rounds)")
        }
        if let syncEvery, !(1...TrainingConfiguration.maximumSyncEvery).contains(syncEvery) {
            throw ValidationError("--sync-every must lie in 1…\(TrainingConfiguration.maximumSyncEvery) steps")
        }
        if let problem = outerOptimizer?.problem { throw ValidationError("--outer-lr / --outer-momentum: \(problem)") }
        if !(stragglerThreshold > 0) { throw ValidationError("--straggler-threshold must be positive") }
        if overlap, let reason = TrainingConfiguration.overlapProblem(mode: mode, compress: compress) {
            throw ValidationError("--overlap cannot be used \(reason)")
        }
    }

    /// The staleness bound the mode has: --staleness (default 3) in SSP mode, none otherwise.
    var stalenessBound: Int? { mode == .ssp ? (staleness ?? 3) : nil }

    /// The round length local-sgd mode takes without --sync-every.
    static let defaultSyncEvery = 8
    /// The outer optimiser local-sgd mode takes without --outer-lr and --outer-momentum: plain SGD of lr 1
    /// (the mean of the replicas), which of the settings tried (docs/benchmarks.md) kept the MNIST MLP
    /// and the CIFAR-10 CNN closest to sync; DiLoCo's lr 0.7 with momentum 0.9 lost 1.1 points on the MLP.
    static let defaultOuterOptimizer = OptimizerSettings.sgd(learningRate: 1)

    /// The steps of a round the mode has: --sync-every (default 8) in local-SGD mode, none otherwise.
    var roundLength: Int? { mode == .localSGD ? (syncEvery ?? Self.defaultSyncEvery) : nil }

    /// The outer optimiser the mode has: SGD with --outer-lr and Nesterov --outer-momentum in local-SGD mode, none otherwise.
    var outerOptimizer: OptimizerSettings? {
        guard mode == .localSGD else { return nil }
        let momentum = outerMomentum ?? Self.defaultOuterOptimizer.momentum
        return .sgd(learningRate: outerLr ?? Self.defaultOuterOptimizer.learningRate, momentum: momentum, nesterov: momentum > 0)
    }
}

extension TrainingMode: ExpressibleByArgument {}

/// Parses the codec `text` given to `flag`; the error names the flag and what it takes.
func codecChoice(_ text: String, flag: String) throws -> CodecChoice {
    do {
        return try CodecChoice(parsing: text)
    } catch {
        throw ValidationError("\(flag): \(error)")
    }
}

extension GradientBound: ExpressibleByArgument {
    /// `off`, `relative`, `relative:FACTOR` (FACTOR > 1) or a fixed L2 norm > 0.
    public init?(argument: String) {
        if argument == "off" {
            self = .off
        } else if argument == "relative" {
            self = .standard
        } else if argument.hasPrefix("relative:"), let factor = Double(argument.dropFirst("relative:".count)),
                  factor > 1, factor.isFinite {
            self = .relative(factor: factor)
        } else if let norm = Double(argument), norm > 0, norm.isFinite {
            self = .fixed(norm)
        } else {
            return nil
        }
    }
}

/// What a parameter server needs from the command line: the data, the initial model, the
/// configuration the workers receive, and the reporter that evaluates each finished epoch.
struct ClusterJob {
    let experiment: Experiment
    let model: Model
    let configuration: TrainingConfiguration
    let dataset: DatasetDescription
    let reporter: EpochReporter
    /// The live display, when standard output is a terminal and --no-progress is not given.
    let display: ServerDisplay?

    /// Loads the data and builds the model for the training flags, or for the configuration `resuming`
    /// a saved run (whose model, data, hyper-parameters and mode replace the flags'; the flags that say
    /// where things go stay as given); writes the metrics file's start event.
    /// `shards` lists every server shard's address when the parameters are split over several.
    init(options: TrainingOptions, cluster: ClusterOptions, resuming saved: TrainingConfiguration? = nil, shards: [String] = []) throws {
        if let saved {
            configuration = saved
        } else {
            let settings = options.hyperparameters
            var flags = TrainingConfiguration(
                model: options.model.rawValue, dataset: options.dataset.rawValue, optimizer: settings.optimizerSettings,
                batchSizePerWorker: settings.batchSize, epochs: settings.epochs, seed: options.seed, mode: cluster.mode,
                staleness: cluster.stalenessBound, syncEvery: cluster.roundLength, outerOptimizer: cluster.outerOptimizer)
            (flags.compress, flags.compressWeights) = (cluster.compress, cluster.weightsCodec)
            flags.overlapPushes = cluster.overlap
            flags.shards = shards
            configuration = flags
        }
        guard let modelKind = ModelKind(rawValue: configuration.model), let datasetKind = DatasetKind(rawValue: configuration.dataset) else {
            throw CLIError("the saved run trains \(configuration.model) on \(configuration.dataset), which this trainer does not know")
        }
        experiment = try Experiment(model: modelKind, dataset: datasetKind, dataDirectory: options.dataDir)
        model = experiment.makeModel(seed: configuration.seed)
        dataset = DatasetDescription(describing: experiment.train, testCount: experiment.test.count)
        // A resumed run adds to the metrics it wrote before.
        let metricsLog = try options.metrics.map { try MetricsLog(path: $0, appending: saved != nil) }
        let optimizer = configuration.optimizer
        metricsLog?.write(event: "start", [
            "model": .text(configuration.model), "dataset": .text(configuration.dataset),
            "parameters": .integer(model.parameterCount), "optimizer": .text(optimizer.kind.rawValue),
            "lr": .float(optimizer.learningRate), "momentum": .float(optimizer.momentum),
            "weight_decay": .float(optimizer.weightDecay), "mode": .text(configuration.mode.rawValue),
            "staleness": configuration.staleness.map { .integer($0) } ?? .number(.nan),
            "compress": .text(configuration.compress.description), "compress_weights": .text(configuration.compressWeights.description),
            "overlap_pushes": .flag(configuration.overlapPushes),
            "sync_every": configuration.syncEvery.map { .integer($0) } ?? .number(.nan),
            "outer_lr": configuration.outerOptimizer.map { .float($0.learningRate) } ?? .number(.nan),
            "outer_momentum": configuration.outerOptimizer.map { .float($0.momentum) } ?? .number(.nan),
            "workers": .integer(cluster.workers), "batch_size": .integer(configuration.batchSizePerWorker),
            "epochs": .integer(configuration.epochs), "seed": .integer(Int(configuration.seed)),
        ])
        display = ServerDisplay(epochs: configuration.epochs, sampleCount: dataset.trainCount,
                                batchSizePerWorker: configuration.batchSizePerWorker,
                                stepHeader: configuration.mode == .localSGD ? "round" : "step", enabled: !cluster.noProgress)
        reporter = EpochReporter(experiment: experiment, model: model, epochs: configuration.epochs, workers: cluster.workers,
                                 metricsLog: metricsLog,
                                 checkpoint: options.checkpoint, plot: options.plot)
    }

    /// A parameter server for this job bound at `endpoint`: shard `shardIndex` of a sharded run (0: the first, or the only one).
    func makeServer(context: Context, bind endpoint: String, cluster: ClusterOptions, security: ServerSecurity? = nil,
                    stateFile: String? = nil, checkpointEvery: Int = 0, resume: ServerState? = nil, shardIndex: Int = 0) throws -> ParameterServer {
        try makeServer(cluster: cluster, security: security, stateFile: stateFile, checkpointEvery: checkpointEvery,
                       shardIndex: shardIndex) { settings, events in
            try ParameterServer(
                context: context, bind: endpoint, weights: Array(model.parameters), fingerprint: model.fingerprint,
                configuration: configuration, dataset: dataset, settings: settings, resume: resume, events: events)
        }
    }

    /// The parameter server of this job serving over `transport` (in this process), reporting as the one above does.
    func makeServer(transport: any MessageTransport, cluster: ClusterOptions) throws -> ParameterServer {
        try makeServer(cluster: cluster, security: nil, stateFile: nil, checkpointEvery: 0) { settings, events in
            try ParameterServer(
                transport: transport, weights: Array(model.parameters), fingerprint: model.fingerprint,
                configuration: configuration, dataset: dataset, settings: settings, events: events)
        }
    }

    /// The server `open` makes from this job's settings and events, wired to the reporter.
    private func makeServer(cluster: ClusterOptions, security: ServerSecurity?, stateFile: String?, checkpointEvery: Int,
                            shardIndex: Int = 0, open: (ParameterServer.Settings, ParameterServer.Events) throws -> ParameterServer) throws -> ParameterServer {
        let reporter = reporter, display = display
        // Log lines are written above the live display, which is cleared first and draws nothing meanwhile.
        var onStatus: (@Sendable (ServerStatus) -> Void)?
        if let display {
            let above: @Sendable (() -> Void) -> Void = { display.printingAbove($0) }
            LogSink.shared.printing(around: above)
            reporter.printingAbove = above
            onStatus = { display.show($0) }
        }
        let settings = ParameterServer.Settings(
            worldSize: cluster.workers, maximumWorkers: cluster.maxWorkers, joinTimeout: .seconds(cluster.joinTimeout),
            stepTimeout: .seconds(cluster.stepTimeout), heartbeatInterval: .seconds(cluster.heartbeats.heartbeatInterval),
            heartbeatTimeout: .seconds(cluster.heartbeats.heartbeatTimeout), security: security, stateFile: stateFile,
            checkpointEvery: checkpointEvery, stragglerThreshold: .seconds(cluster.stragglerThreshold),
            maxGradientNorm: cluster.maxGradientNorm, shardIndex: shardIndex)
        let shardCount = configuration.shardCount
        // Shards 1…S−1 hold a share of the weights only: shard 0 evaluates the epochs once it has every share.
        var onEpochEnd: @Sendable (EpochSummary) -> Void = { reporter.report($0) }
        if shardIndex > 0 {
            // As shard 1 reports: every epoch up to 20, else every tenth of the run, and the last.
            let epochs = configuration.epochs, reportEvery = epochs <= 20 ? 1 : epochs / 10
            onEpochEnd = { @Sendable summary in
                guard summary.epoch % reportEvery == 0 || summary.epoch == epochs else { return }
                print("Shard \(shardIndex + 1) of \(shardCount): epoch \(summary.epoch) done after \(summary.updates) updates "
                      + "(\(summary.samples) samples); its share of the weights went to shard 1")
                fflush(nil)
            }
        }
        let events = ParameterServer.Events(
            logger: Logger(label: "trainer.parameter-server"),
            onMembershipChange: { reporter.membershipChanged($0) }, onStatus: onStatus, onStraggler: { reporter.straggler($0) },
            onEpochEnd: onEpochEnd)
        let server = try open(settings, events)
        reporter.onDivergence = { server.requestStop(reason: "divergence", savingState: false) }
        server.stateWrites.observe { error, inRow in reporter.stateWriteFailed(error, inRow: inRow, limit: server.stateWrites.limit) }
        return server
    }

    /// Reports how a run whose server returned `weights` ended: done (true), stopped by a signal
    /// (false), or failed, throwing, when the run diverged or the server's state writes kept failing.
    func conclude(_ server: ParameterServer, weights: [Float]) async throws -> Bool {
        if let reason = reporter.divergence ?? server.stateWrites.stopReason {
            reporter.failed(reason: reason)
            throw CLIError("training stopped: \(reason)")
        }
        if let reason = server.stoppedBy {
            try reporter.stopped(reason: reason, weights: weights, updates: await server.completedUpdates,
                                 unreported: await server.unreportedRanks)
            return false
        }
        try reporter.finish()
        return true
    }

    /// The first line a run prints.
    func banner(workers: Int, place: String) -> String {
        let settings = configuration
        let optimizer = settings.optimizer.description
        var mode = settings.staleness.map { "ssp mode (staleness \($0))" } ?? "\(settings.mode.rawValue) mode"
        if let steps = settings.syncEvery, let outer = settings.outerOptimizer {
            mode = "local-sgd mode (rounds of \(steps) step\(steps == 1 ? "" : "s"), outer \(outer.description))"
        }
        if settings.compress != .none || settings.compressWeights != .none {
            mode += ", pushes \(settings.compress), weights \(settings.compressWeights)"
        }
        if settings.overlapPushes { mode += ", pushes overlapping backward" }
        if settings.shardCount > 1 { mode += ", parameters split over \(settings.shardCount) server shards" }
        return "Training \(settings.model) on \(settings.dataset) with a parameter server and \(workers) worker\(workers == 1 ? "" : "s") \(place): "
            + "\(dataset.trainCount) training and \(dataset.testCount) test samples, \(model.parameterCount) parameters, "
            + "\(optimizer), \(mode), batch \(settings.batchSizePerWorker) per worker "
            + "(global \(settings.batchSizePerWorker * workers)), \(settings.epochs) epoch\(settings.epochs == 1 ? "" : "s"), seed \(settings.seed)"
    }
}

/// Builds a worker's replica from a server's configuration: the named model and data set from `dataDirectory`.
func makeReplica(_ configuration: TrainingConfiguration, dataDirectory: String?) throws -> Replica {
    guard let model = ModelKind(rawValue: configuration.model) else {
        throw CLIError("the server trains a model this worker does not know: \(configuration.model)")
    }
    guard let dataset = DatasetKind(rawValue: configuration.dataset) else {
        throw CLIError("the server trains on a data set this worker does not know: \(configuration.dataset)")
    }
    let experiment = try Experiment(model: model, dataset: dataset, dataDirectory: dataDirectory)
    return Replica(model: experiment.makeModel(seed: configuration.seed), trainingSet: experiment.train,
                   testCount: experiment.test.count, objective: experiment.objective)
}

/// One line per worker: where its time went.
func describe(_ statistics: WorkerStatistics, waitSeconds: Double?) -> String {
    let seconds = { String(format: "%.2f s", $0) }
    var line = "Worker \(statistics.rank): \(statistics.pushes) steps, \(statistics.samples) samples; "
        + "compute \(seconds(statistics.computeSeconds)), exchange with the server \(seconds(statistics.exchangeSeconds))"
    if let waitSeconds {
        line += " (of which waiting for the other workers \(seconds(waitSeconds)))"
    }
    return line
}
