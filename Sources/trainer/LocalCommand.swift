import ArgumentParser
import Cluster
import Datasets
import Engine
import Foundation
import ZeroMQ

/// `trainer local`: a parameter server and N workers in this process, talking over real ZeroMQ sockets.
struct LocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Train with a parameter server and N workers in this process, over ZeroMQ (synchronous mode).",
        discussion: """
            --batch-size is per worker, as in DDP: the global batch is workers × batch size, and synchronous \
            training with N workers of batch b gives the weights one process gets with batch N·b. Each worker \
            uses one BLAS thread. The server evaluates the weights on the test set after every epoch; \
            asynchronous mode comes with the cluster's next step.
            """
    )

    /// Where the server listens.
    enum Transport: String, CaseIterable, ExpressibleByArgument {
        case inproc
        case ipc
        case tcp
    }

    @OptionGroup var options: TrainingOptions

    @Option(help: "The number of workers.")
    var workers: Int = 2

    @Option(help: "The ZeroMQ transport between the server and the workers: inproc, ipc or tcp (127.0.0.1).")
    var transport: Transport = .inproc

    func validate() throws {
        if workers < 1 { throw ValidationError("--workers must be at least 1") }
    }

    func run() async throws {
        // N workers share this process's cores: one BLAS thread each, so they do not oversubscribe them.
        BLAS.setThreadCount(1)
        let settings = options.hyperparameters
        let experiment = try Experiment(model: options.model, dataset: options.dataset, dataDirectory: options.dataDir)
        let seed = options.seed
        let model = experiment.makeModel(seed: seed)
        let configuration = TrainingConfiguration(
            model: options.model.rawValue, dataset: options.dataset.rawValue,
            optimizer: settings.optimizer == .sgd ? .sgd : .adam, learningRate: Double(settings.learningRate),
            momentum: Double(settings.momentum), batchSizePerWorker: settings.batchSize, epochs: settings.epochs,
            seed: seed, mode: .sync)
        let dataset = DatasetDescription(name: experiment.train.name, trainCount: experiment.train.count,
                                         testCount: experiment.test.count)
        let metricsLog = try options.metrics.map(MetricsLog.init(path:))
        metricsLog?.write(event: "start", ["model": .text(options.model.rawValue), "dataset": .text(options.dataset.rawValue),
                                           "workers": .integer(workers), "batch_size": .integer(settings.batchSize),
                                           "epochs": .integer(settings.epochs), "seed": .integer(Int(seed))])
        let reporter = EpochReporter(experiment: experiment, model: model, epochs: settings.epochs, workers: workers,
                                     metricsLog: metricsLog, checkpoint: options.checkpoint)
        let context = try Context()
        let server = try ParameterServer(context: context, bind: endpoint(), weights: Array(model.parameters),
                                         fingerprint: model.fingerprint, configuration: configuration, dataset: dataset,
                                         worldSize: workers, onEpochEnd: { reporter.report($0) })
        let replicas = try (0..<workers).map { _ in
            try Worker(context: context, connect: server.endpoint, trainingSet: experiment.train, testCount: experiment.test.count,
                       objective: experiment.objective) { _ in experiment.makeModel(seed: seed) }
        }
        print("Training \(options.model.rawValue) on \(options.dataset.rawValue) with a parameter server and \(workers) workers "
              + "over \(transport.rawValue) (\(server.endpoint)): batch \(settings.batchSize) per worker, "
              + "\(settings.epochs) epochs, seed \(seed)")
        fflush(nil)
        reporter.start()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { _ = try await server.run() }
            for replica in replicas { group.addTask { _ = try await replica.run() } }
            try await group.waitForAll()
        }
        await server.close()
        for replica in replicas { await replica.close() }
        try reporter.finish()
    }

    /// The server's address for the chosen transport; tcp lets the OS pick the port.
    private func endpoint() -> String {
        let process = ProcessInfo.processInfo.processIdentifier
        switch transport {
        case .inproc: return "inproc://trainer-server-\(process)"
        case .ipc: return "ipc://" + FileManager.default.temporaryDirectory.appendingPathComponent("trainer-\(process).sock").path
        case .tcp: return "tcp://127.0.0.1:*"
        }
    }
}
