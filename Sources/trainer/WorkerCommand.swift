import ArgumentParser
import Cluster
import Engine
import Foundation
import Logging
import ZeroMQ

/// `trainer worker`: one worker, connecting to a parameter server in another process or on another host.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run one worker: connect to a parameter server, receive what to train, train until it says stop.",
        discussion: """
            The server sends the model, the data set's name and the hyper-parameters; the worker loads that data \
            set from --data-dir (the server refuses a worker whose data differs from its own) and exits 0 when \
            training is done, non-zero with the reason if it is refused or fails, if the server does not answer \
            within --timeout seconds before training, or if during training the server stays silent for \
            --heartbeat-timeout seconds and does not take the worker back within --reconnect-timeout. \
            A worker may start at any time: in sync mode it takes part from the server's next step.
            """
    )

    @Option(help: "The server's ZeroMQ endpoint, e.g. tcp://HOST:5555.")
    var connect: String

    @Option(help: TrainingOptions.dataDirectoryHelp)
    var dataDir: String?

    @Option(parsing: .unconditional, help: "BLAS threads (default: all cores; give 1 when several workers share a host).")
    var threads: Int?

    @Option(parsing: .unconditional, help: "Seconds to wait for the server's answers before training (setup, then a place in training).")
    var timeout: Double = 120

    @OptionGroup var heartbeats: HeartbeatOptions

    @Option(parsing: .unconditional, help: "After losing the server during training: seconds to keep trying to join it again (a restarted or resumed server), 0 to give up at once.")
    var reconnectTimeout: Double = 60

    @Option(help: ArgumentHelp("The push codec this worker expects the server's run to use (none, bf16, fp16, topk:FRACTION); by default it takes the server's. A server with another one is an error on both sides.", valueName: "codec"),
            transform: { try codecChoice($0, flag: "--compress") })
    var compress: CodecChoice?

    @Option(help: ArgumentHelp("The weights codec this worker expects the server's run to use; by default it takes the server's.", valueName: "codec"),
            transform: { try codecChoice($0, flag: "--compress-weights") })
    var compressWeights: CodecChoice?

    @Flag(help: "Trace every message sent and received (type, step and size, never the payload) on standard error.")
    var verbose = false

    @Option(help: "Connect with CURVE: the server's public key file (its keygen .public file; with --curve-secret-key).")
    var curveServerKey: String?

    @OptionGroup var curve: CurveSecretKeyOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if !(timeout > 0) { throw ValidationError("--timeout must be positive") }
        if !(reconnectTimeout >= 0) { throw ValidationError("--reconnect-timeout must not be negative") }
        if (curveServerKey == nil) != (curve.curveSecretKey == nil) {
            throw ValidationError("--curve-server-key and --curve-secret-key go together")
        }
    }

    func run() async throws {
        if let threads { BLAS.setThreadCount(threads) }
        logging.bootstrap(verbose: verbose)
        var security: WorkerSecurity?
        if let curveServerKey, let curveSecretKey = curve.curveSecretKey {
            security = WorkerSecurity(serverPublicKey: try CurveKeyFile.read(curveServerKey, what: "CURVE public key"),
                                      keyPair: try CurveKeyFile.keyPair(secretFile: curveSecretKey))
        }
        let context = try Context()
        // Released last, after the sockets are closed: ending the context delivers their last messages
        // (stop, error) within their linger before the process exits.
        defer { withExtendedLifetime(context) {} }
        let dataDirectory = dataDir
        let worker: Worker
        do {
            let settings = Worker.Settings(
                timeout: .seconds(timeout), reconnectTimeout: .seconds(reconnectTimeout),
                heartbeatInterval: .seconds(heartbeats.heartbeatInterval), heartbeatTimeout: .seconds(heartbeats.heartbeatTimeout),
                security: security, compress: compress, compressWeights: compressWeights, logger: Logger(label: "trainer.worker"))
            worker = try Worker(context: context, connect: connect, settings: settings) { configuration in
                let replica = try makeReplica(configuration, dataDirectory: dataDirectory)
                print("Training \(configuration.model) on \(configuration.dataset) (\(replica.trainingSet.count) samples), "
                      + "\(configuration.mode.rawValue) mode, batch \(configuration.batchSizePerWorker), "
                      + "OpenBLAS \(BLAS.coreName) with \(BLAS.threadCount) thread(s)")
                fflush(nil)
                return replica
            }
        } catch let error as ZMQError {
            throw CLIError("cannot connect to \(connect): \(error)")
        }
        print("Connecting to \(connect)")
        fflush(nil)
        let statistics: WorkerStatistics
        do {
            statistics = try await worker.run()
        } catch ClusterError.noReply(let expecting, let seconds) where expecting == "setup" && security != nil {
            await worker.close()
            throw CLIError("no answer from the server within \(seconds) s. With CURVE a refused worker hears nothing: check that "
                           + "--curve-server-key is the server's .public file and that the server's --authorized-keys lists this "
                           + "worker's public key (\(security!.keyPair.publicKey.prefix(8))…, in the .public file beside its secret key)")
        } catch {
            await worker.close()
            throw CLIError("\(error)")
        }
        await worker.close()
        guard await worker.assignedRank != nil else {
            print("Done: training ended while this worker waited for a place")
            return
        }
        print("Done: the server said stop")
        print(describe(statistics, waitSeconds: nil))
    }
}
