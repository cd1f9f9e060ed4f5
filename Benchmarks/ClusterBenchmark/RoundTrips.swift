import Cluster
import Datasets
import Engine
import Foundation
import ZeroMQ

/// A model whose weights cross the wire: how to build it and the shape of one of its samples.
struct BenchmarkModel: Sendable {
    /// The name in the JSON output ("mlp", "cnn").
    let name: String
    /// The shape of one synthetic sample.
    let sampleShape: [Int]
    /// Builds the network (the same seed everywhere, so the worker's fingerprint matches the server's).
    let make: @Sendable () -> Model

    /// The tutorial's MNIST MLP, 784-128-64-10: 109,386 floats.
    static let mlp = BenchmarkModel(name: "mlp", sampleShape: [784]) {
        Model(Models.mlp(inputs: 784, hidden: (128, 64), outputs: 10), seed: 1)
    }

    /// The tutorial's CIFAR-10 CNN: 2,122,186 floats.
    static let cnn = BenchmarkModel(name: "cnn", sampleShape: [3, 32, 32]) {
        Model(Models.cnn(channels: 3, imageSize: 32, classes: 10), seed: 1)
    }
}

/// The two measurements, one repetition each: the protocol's round trip through a real parameter
/// server and worker, and libzmq's round trip of the same bytes with nothing around it.
enum RoundTrips {
    /// One run of a real `ParameterServer` (sync, world size 1, SGD lr 0.01 momentum 0.9, batch 1)
    /// and one real `Worker` over tcp on 127.0.0.1 for `steps` steps; returns the worker's
    /// `exchangeSeconds / pushes` (from sending a gradient to holding the next weights) and the
    /// server's own share of it, `updateSeconds / updates` from its epoch summary (averaging, the
    /// optimiser step and queueing the weights).
    ///
    /// Every step but the last gets the full weights back; the last gets a short stop message, so
    /// the figure is lower than a full round trip's by at most half of one round trip in `steps`.
    static func server(_ model: BenchmarkModel, steps: Int) async throws -> (roundTrip: Double, update: Double) {
        let trainingSet = synthetic(model, count: steps)
        let initial = model.make()
        let configuration = TrainingConfiguration(
            model: model.name, dataset: trainingSet.name, optimizer: .sgd(learningRate: 0.01, momentum: 0.9),
            batchSizePerWorker: 1, epochs: 1, seed: 1, mode: .sync)
        let context = try Context()
        // One epoch of `steps` samples at batch 1: its summary comes with the last update.
        let summary = Handoff<EpochSummary>()
        let server = try ParameterServer(
            context: context,
            bind: "tcp://127.0.0.1:*",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: DatasetDescription(describing: trainingSet, testCount: 0),
            settings: .init(worldSize: 1, maxSteps: steps),
            events: .init(logger: .discarding, onEpochEnd: { summary.put(.success($0)) }))
        let make = model.make
        let worker = try Worker(context: context, connect: server.endpoint, trainingSet: trainingSet,
                                settings: Worker.Settings(heartbeatTimeout: .seconds(60), logger: .discarding)) { _ in make() }
        async let finalWeights = server.run()
        let statistics: WorkerStatistics
        do {
            statistics = try await worker.run()
            _ = try await finalWeights
        } catch {
            await worker.close()
            await server.close()
            throw error
        }
        await worker.close()
        await server.close()
        guard statistics.pushes == steps else {
            throw BenchmarkError("the worker pushed \(statistics.pushes) gradients, expected \(steps)")
        }
        guard let epoch = try summary.take(timeoutSeconds: 0), epoch.updates > 0 else {
            throw BenchmarkError("the server reported no finished epoch")
        }
        return (statistics.exchangeSeconds / Double(statistics.pushes), epoch.updateSeconds / Double(epoch.updates))
    }

    /// One repetition of raw libzmq round trips of `floats` float32 each way over tcp on 127.0.0.1:
    /// a ROUTER and a DEALER on one context (one I/O thread, as `trainer local` has), each driven by
    /// its own thread through the `ZeroMQ` wrapper. The DEALER sends one frame of 4·`floats` bytes,
    /// the ROUTER receives it and answers with one frame of the same size, the DEALER receives it.
    /// Frames are zero-copy from buffers that never change, as the server's weight snapshots and the
    /// worker's gradients are, so the baseline has no copy the protocol avoids.
    /// After `warmUp` untimed round trips on the fresh connection, returns the mean seconds per
    /// round trip over `steps` timed ones.
    static func raw(floats: Int, steps: Int, warmUp: Int = 3) async throws -> Double {
        let context = try Context()
        let endpoint = Handoff<String>()
        let total = warmUp + steps
        let timeout = 30_000
        async let router: Void = onThread(named: "raw-router") {
            let socket = try context.socket(.router)
            defer { socket.close() }
            do {
                // Sockets start with linger 0: keep the last reply when the loop ends and closes the socket.
                try socket.set(.linger, 1000)
                try socket.bind("tcp://127.0.0.1:*")
                endpoint.put(.success(try socket.lastEndpoint))
            } catch {
                endpoint.put(.failure(error))
                throw error
            }
            let reply = FixedFloats(count: floats, value: 0.5)
            for _ in 0..<total {
                guard let frames = try socket.receiveMultipart(timeout: timeout) else {
                    throw BenchmarkError("raw ROUTER: no request within \(timeout / 1000) s")
                }
                guard frames.count == 2, frames[1].count == 4 * floats else {
                    throw BenchmarkError("raw ROUTER: unexpected message of \(frames.map(\.count)) bytes")
                }
                try socket.send([Frame(forwarding: frames[0]), reply.frame])
            }
        }
        async let dealer: Double = onThread(named: "raw-dealer") {
            guard let address = try endpoint.take(timeoutSeconds: 30) else {
                throw BenchmarkError("raw DEALER: the ROUTER did not bind within 30 s")
            }
            let socket = try context.socket(.dealer)
            defer { socket.close() }
            try socket.connect(address)
            let request = FixedFloats(count: floats, value: 0.25)
            var started = ContinuousClock.now
            for index in 0..<total {
                if index == warmUp { started = .now }
                try socket.send([request.frame])
                guard let frames = try socket.receiveMultipart(timeout: timeout) else {
                    throw BenchmarkError("raw DEALER: no reply within \(timeout / 1000) s")
                }
                guard frames.count == 1, frames[0].count == 4 * floats else {
                    throw BenchmarkError("raw DEALER: unexpected reply of \(frames.map(\.count)) bytes")
                }
            }
            return (ContinuousClock.now - started).benchmarkSeconds / Double(steps)
        }
        let (_, seconds) = try await (router, dealer)
        return seconds
    }

    /// `count` samples of `model`'s input shape with uniform values in [−1, 1] and labels 0…9.
    private static func synthetic(_ model: BenchmarkModel, count: Int) -> LabeledDataset {
        var generator = SeededGenerator(seed: 7)
        let size = model.sampleShape.reduce(1, *)
        let features = (0..<(count * size)).map { _ in generator.nextUnitFloat() * 2 - 1 }
        return LabeledDataset(name: "synthetic-\(model.name)", sampleShape: model.sampleShape, features: features,
                              labels: (0..<count).map { Int32($0 % 10) }, classCount: 10)
    }

    /// Runs `body` on a new thread (sockets stay on the thread that made them) and returns its result.
    private static func onThread<Output: Sendable>(
        named name: String, _ body: @escaping @Sendable () throws -> Output
    ) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result(catching: body)) }
            thread.name = name
            thread.start()
        }
    }
}

/// Floats that never change after creation, sent without copies.
private final class FixedFloats: @unchecked Sendable {
    // Unchecked: written only in init.
    let floats: UnsafeMutableBufferPointer<Float>

    init(count: Int, value: Float) {
        floats = .allocate(capacity: count)
        floats.initialize(repeating: value)
    }

    deinit { floats.deallocate() }

    /// A zero-copy frame of the floats; the frame keeps this object alive.
    var frame: Frame { Frame(noCopy: UnsafeBufferPointer(floats), owner: self) }
}

/// One value handed from one thread to another, with a timeout on the receiving side.
private final class Handoff<Value: Sendable>: @unchecked Sendable {
    // Unchecked: `value` is guarded by `condition`.
    private let condition = NSCondition()
    private var value: Result<Value, any Error>?

    func put(_ result: Result<Value, any Error>) {
        condition.withLock {
            value = result
            condition.broadcast()
        }
    }

    /// The value once put (rethrowing a failure), or nil after `timeoutSeconds`.
    func take(timeoutSeconds: Double) throws -> Value? {
        let deadline = Date(timeIntervalSinceNow: timeoutSeconds)
        let result: Result<Value, any Error>? = condition.withLock {
            while value == nil && condition.wait(until: deadline) {}
            return value
        }
        return try result?.get()
    }
}

/// A failure of the benchmark itself.
struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Duration {
    /// The duration in seconds.
    var benchmarkSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
