import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// The next message of a pump's stream, or nil when none arrives within `seconds`.
func nextMessage(_ pump: SocketPump, within seconds: Double = 2) async -> [ReceivedFrame]? {
    await withTaskGroup(of: [ReceivedFrame]?.self) { group in
        group.addTask {
            var iterator = pump.incoming.makeAsyncIterator()
            return await iterator.next()
        }
        group.addTask {
            try? await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

/// Pumps over real sockets: tcp on 127.0.0.1 with an OS-chosen port.
@Suite(.timeLimit(.minutes(1))) struct SocketPumpTests {
    @Test func routerAndDealerExchangeMessagesThroughTheirThreads() async throws {
        let context = try Context()
        let server = try SocketPump(context: context, type: .router, name: "test-server") { try $0.bind("tcp://127.0.0.1:*") }
        let worker = try SocketPump(context: context, type: .dealer, name: "test-worker") { [endpoint = server.endpoint] in
            try $0.connect(endpoint)
        }
        defer { worker.close(); server.close() }
        #expect(server.endpoint.hasPrefix("tcp://127.0.0.1:"))
        #expect(worker.send([Frame("hello"), Frame(floats: [1, 2, 3])]))
        let request = try #require(await nextMessage(server))
        #expect(request.count == 3, "identity, then the two frames")
        #expect(request[1].string == "hello")
        #expect(request[2].floats == [1, 2, 3])
        server.send([Frame(forwarding: request[0]), Frame("world")])
        let reply = try #require(await nextMessage(worker))
        #expect(reply.map(\.string) == ["world"])
    }

    @Test func setUpFailuresAreThrownToTheCreator() throws {
        let context = try Context()
        let first = try SocketPump(context: context, type: .router, name: "first") { try $0.bind("tcp://127.0.0.1:*") }
        defer { first.close() }
        let error = #expect(throws: ZMQError.self) {
            _ = try SocketPump(context: context, type: .router, name: "second") { [endpoint = first.endpoint] in
                try $0.bind(endpoint)
            }
        }
        #expect(error?.description.contains("Address already in use") == true)
    }

    @Test func closingFinishesTheStreamAndRefusesSends() async throws {
        let context = try Context()
        let pump = try SocketPump(context: context, type: .router, name: "closing") { try $0.bind("tcp://127.0.0.1:*") }
        pump.close()
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in pump.incoming {}
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        #expect(finished, "incoming did not finish within 2 s of close()")
        #expect(!pump.send([Frame("late")]))
    }

    /// Idle pumps wait in zmq_poll on their own threads: the cooperative pool (2 threads here) stays free.
    /// Were they on the pool, three pumps would hold both of its threads for good and the sleep would
    /// never end; the bound is loose because other tests may load the cores meanwhile.
    @Test func idlePumpsDoNotStallTheCooperativePool() async throws {
        let context = try Context()
        let pumps = try (0..<3).map { index in
            try SocketPump(context: context, type: .router, name: "idle-\(index)") { try $0.bind("tcp://127.0.0.1:*") }
        }
        defer { pumps.forEach { $0.close() } }
        let start = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(50))
        #expect(ContinuousClock.now - start < .seconds(10))
    }
}
