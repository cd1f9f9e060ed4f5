import Datasets
import Engine
import Foundation
import Testing
import Transport
import ZeroMQ
@testable import Cluster

/// The direct in-process transport: its routing, deadlines and close on real actors, and sync
/// training over it ending bit-identical to the same run over inproc ZeroMQ.
@Suite(.timeLimit(.minutes(1))) struct DirectTransportTests {
    @Test func aServerHearsEachClientUnderItsIdentityAndAnswersOnlyIt() async throws {
        let server = try DirectTransport(serving: "routing")
        let first = try DirectTransport(connectingTo: server, name: "first")
        let second = try DirectTransport(connectingTo: server, name: "second")
        let serverEnd = Receiver(server), firstEnd = Receiver(first), secondEnd = Receiver(second)
        #expect(first.send([Frame("one")]))
        #expect(second.send([Frame("two"), Frame(floats: [1.5, -2])]))
        let fromFirst = try #require(await serverEnd.next(within: 2))
        let fromSecond = try #require(await serverEnd.next(within: 2))
        #expect(fromFirst.count == 2 && fromFirst[1].string == "one")
        #expect(fromSecond.count == 3 && fromSecond[1].string == "two" && fromSecond[2].floats == [1.5, -2])
        #expect(fromFirst[0].bytes != fromSecond[0].bytes, "each client has its own identity")
        // A reply routed by the second client's identity reaches it, and only it.
        let gradient = Box([3, 4, 5])
        #expect(server.send([Frame(fromSecond[0].bytes), Frame(noCopy: UnsafeBufferPointer(gradient.values), owner: gradient)]))
        let reply = try #require(await secondEnd.next(within: 2))
        #expect(reply.count == 1 && reply[0].floats == [3, 4, 5])
        #expect(await firstEnd.next(within: 0.2) == nil, "the other client gets nothing")
        await first.close()
        await second.close()
        await server.close()
    }

    @Test func aWaitEndsAtItsDeadlineAndOnInterrupt() async throws {
        let server = try DirectTransport(serving: "deadline")
        let end = Receiver(server)
        let start = ContinuousClock.now
        #expect(await end.next(within: 0.2) == nil)
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(200) && waited < .seconds(10), "waited \(waited)")
        server.interrupt()
        let interrupted = ContinuousClock.now
        #expect(await end.next(within: 30) == nil)
        #expect(ContinuousClock.now - interrupted < .seconds(10), "an interrupt ends the next wait long before its 30 s deadline")
        await server.close()
    }

    @Test func closingFinishesTheMailboxAndRefusesSends() async throws {
        let server = try DirectTransport(serving: "closing")
        let client = try DirectTransport(connectingTo: server, name: "client")
        await server.close()
        #expect(server.isFinished)
        #expect(!server.send([Frame("late")]))
        // A client's message to a closed server is dropped; the client itself still works.
        #expect(client.send([Frame("to nobody")]))
        await client.close()
        #expect(!client.send([Frame("after close")]))
    }

    /// 2 workers of batch 32, 20 steps of sync SGD, over ZeroMQ inproc and over the direct transport:
    /// the same messages in the same protocol, so the final weights agree bit for bit.
    @Test(arguments: [OptimizerKind.sgd, .adam])
    func syncOverTheDirectTransportEqualsSyncOverInprocZeroMQ(optimizer: OptimizerKind) async throws {
        let overZeroMQ = try await Self.train(optimizer: optimizer, direct: false)
        let overDirect = try await Self.train(optimizer: optimizer, direct: true)
        #expect(overZeroMQ.count == overDirect.count)
        #expect(overZeroMQ.map(\.bitPattern) == overDirect.map(\.bitPattern), "\(optimizer): the weights differ")
        let initial = SyncSetUp.network().parameterValues
        #expect(overDirect.indices.contains { abs(overDirect[$0] - initial[$0]) > 1e-3 })
    }

    /// The final weights of 20 sync steps with 2 workers over inproc ZeroMQ or the direct transport.
    private static func train(optimizer: OptimizerKind, direct: Bool) async throws -> [Float] {
        let set = SyncSetUp.dataset(count: 150)
        let configuration = SyncSetUp.configuration(optimizer, batchSize: 32)
        let workers = 2, steps = 20
        let initial = SyncSetUp.network()
        let context = try Context()
        let settings = ParameterServer.Settings(worldSize: workers, maxSteps: steps, joinTimeout: .seconds(30), stepTimeout: .seconds(30))
        let serverTransport: any MessageTransport = direct
            ? try DirectTransport(serving: "equivalence")
            : try ZeroMQTransport(context: context, role: .server(bind: "inproc://direct-\(UUID().uuidString)", curve: nil),
                                  name: "parameter-server", limits: .parameterServer(parameterCount: initial.parameterCount))
        let server = try ParameterServer(
            transport: serverTransport, weights: Array(initial.parameters), fingerprint: initial.fingerprint,
            configuration: configuration, dataset: DatasetDescription(describing: set, testCount: 0), settings: settings,
            events: .init(logger: .discarding))
        let replicas = try (0..<workers).map { _ in
            let transport: any MessageTransport = if let hub = serverTransport as? DirectTransport {
                try DirectTransport(connectingTo: hub, name: "worker")
            } else {
                try ZeroMQTransport(context: context, role: .client(connect: server.endpoint, curve: nil), name: "worker", limits: .worker)
            }
            return Worker(transport: transport, settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in
                Replica(model: SyncSetUp.network(), trainingSet: set, testCount: 0, objective: .classification)
            }
        }
        async let finalWeights = server.run()
        let pushed = try await pushCounts(running: replicas)
        let weights = try await finalWeights
        #expect(pushed == [steps, steps])
        for worker in replicas { await worker.close() }
        await server.close()
        return weights
    }
}

/// An actor on a transport's thread that reads its messages, as the cluster's actors do.
private actor Receiver {
    let transport: any MessageTransport
    nonisolated var unownedExecutor: UnownedSerialExecutor { transport.unownedExecutor }

    init(_ transport: any MessageTransport) { self.transport = transport }

    /// The next message within `seconds`, or nil.
    func next(within seconds: Double) async -> [any IncomingFrame]? {
        await transport.receive(before: .now + .seconds(seconds), isolation: #isolation)
    }
}

/// Floats that a zero-copy frame of them keeps alive.
private final class Box: @unchecked Sendable {
    // Unchecked: written once, before any frame of them exists.
    let values: UnsafeMutableBufferPointer<Float>
    init(_ values: [Float]) {
        self.values = .allocate(capacity: values.count)
        _ = self.values.initialize(from: values)
    }
    deinit { values.deallocate() }
}
