import ArgumentParser
import Cluster
import Datasets
import Engine
import Foundation
import ZeroMQ

/// The flags `trainer local` and `trainer server` add to the training flags.
struct ClusterOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "The number of workers; --batch-size is per worker, so the global batch is workers × batch size.")
    var workers: Int = 2

    @Option(help: "sync: every step averages one gradient per worker (equal to one process with the global batch); async: each gradient is applied as it arrives.")
    var mode: TrainingMode = .sync

    @Option(help: "Seconds to wait for all workers to join.")
    var joinTimeout: Double = 120

    @Option(help: "Seconds a step may take before the server gives up and names the missing workers.")
    var stepTimeout: Double = 120

    @Option(help: "Seconds between heartbeats to a worker the server has sent nothing else.")
    var heartbeatInterval: Double = 1

    @Option(help: "Seconds without a message from a worker after which it is dropped; in sync mode the others then compute the step again without it, so no sample is skipped.")
    var heartbeatTimeout: Double = 10

    @Option(help: "The most workers taking part at once: in sync mode workers may join at any time up to it (the global batch grows with them); default --workers. Async mode keeps --workers ranks.")
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
        if !(heartbeatInterval > 0 && heartbeatTimeout > heartbeatInterval) {
            throw ValidationError("--heartbeat-interval must be positive and shorter than --heartbeat-timeout")
        }
        if let maxWorkers, maxWorkers < workers { throw ValidationError("--max-workers must be at least --workers (\(workers))") }
    }
}

extension TrainingMode: ExpressibleByArgument {}

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

    /// Loads the data and builds the model; writes the metrics file's start event.
    init(options: TrainingOptions, cluster: ClusterOptions, resuming: Bool = false) throws {
        let settings = options.hyperparameters
        experiment = try Experiment(model: options.model, dataset: options.dataset, dataDirectory: options.dataDir)
        model = experiment.makeModel(seed: options.seed)
        configuration = TrainingConfiguration(
            model: options.model.rawValue, dataset: options.dataset.rawValue,
            optimizer: settings.optimizer == .sgd ? .sgd : .adam, learningRate: Double(settings.learningRate),
            momentum: Double(settings.momentum), batchSizePerWorker: settings.batchSize, epochs: settings.epochs,
            seed: options.seed, mode: cluster.mode)
        dataset = DatasetDescription(describing: experiment.train, testCount: experiment.test.count)
        // A resumed run adds to the metrics it wrote before.
        let metricsLog = try options.metrics.map { try MetricsLog(path: $0, appending: resuming) }
        metricsLog?.write(event: "start", [
            "model": .text(options.model.rawValue), "dataset": .text(options.dataset.rawValue),
            "parameters": .integer(model.parameterCount), "optimizer": .text(settings.optimizer.rawValue),
            "lr": .float(settings.learningRate), "momentum": .float(settings.momentum), "mode": .text(cluster.mode.rawValue),
            "workers": .integer(cluster.workers), "batch_size": .integer(settings.batchSize),
            "epochs": .integer(settings.epochs), "seed": .integer(Int(options.seed)),
        ])
        display = ServerDisplay(epochs: settings.epochs, sampleCount: dataset.trainCount,
                                batchSizePerWorker: settings.batchSize, enabled: !cluster.noProgress)
        reporter = EpochReporter(experiment: experiment, model: model, epochs: settings.epochs, workers: cluster.workers,
                                 metricsLog: metricsLog,
                                 checkpoint: options.checkpoint, plot: options.plot)
    }

    /// A parameter server for this job bound at `endpoint`.
    func makeServer(context: Context, bind endpoint: String, cluster: ClusterOptions, security: ServerSecurity? = nil,
                    stateFile: String? = nil, checkpointEvery: Int = 0, resume: ServerState? = nil) throws -> ParameterServer {
        let reporter = reporter, display = display
        let log: @Sendable (String) -> Void
        let onStatus: (@Sendable (ServerStatus) -> Void)?
        if let display {
            log = { display.log($0) }
            onStatus = { display.show($0) }
        } else {
            log = ParameterServer.standardError
            onStatus = nil
        }
        let server = try ParameterServer(
            context: context, bind: endpoint, weights: Array(model.parameters), fingerprint: model.fingerprint,
            configuration: configuration, dataset: dataset, worldSize: cluster.workers, maximumWorkers: cluster.maxWorkers,
            joinTimeout: .seconds(cluster.joinTimeout), stepTimeout: .seconds(cluster.stepTimeout),
            heartbeatInterval: .seconds(cluster.heartbeatInterval), heartbeatTimeout: .seconds(cluster.heartbeatTimeout),
            security: security, stateFile: stateFile, checkpointEvery: checkpointEvery, resume: resume,
            log: log,
            trace: cluster.verbose ? ParameterServer.standardError : nil,
            onMembershipChange: { reporter.membershipChanged($0) },
            onStatus: onStatus,
            onEpochEnd: { summary in
                display?.clear()
                reporter.report(summary)
            })
        reporter.onDivergence = { server.requestStop(reason: "divergence") }
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
            try reporter.stopped(reason: reason, weights: weights, updates: await server.completedUpdates)
            return false
        }
        try reporter.finish()
        return true
    }

    /// The first line a run prints.
    func banner(workers: Int, place: String) -> String {
        let settings = configuration
        let optimizer = settings.optimizer == .sgd
            ? "SGD(lr \(Float(settings.learningRate)), momentum \(Float(settings.momentum)))" : "Adam(lr \(Float(settings.learningRate)))"
        return "Training \(settings.model) on \(settings.dataset) with a parameter server and \(workers) worker\(workers == 1 ? "" : "s") \(place): "
            + "\(dataset.trainCount) training and \(dataset.testCount) test samples, \(model.parameterCount) parameters, "
            + "\(optimizer), \(settings.mode.rawValue) mode, batch \(settings.batchSizePerWorker) per worker "
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
