import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// The next message of a pump's mailbox, or nil when none arrives within `seconds`.
func nextMessage(_ pump: SocketPump, within seconds: Double = 2) async -> [ReceivedFrame]? {
    await pump.mailbox.next(before: .now + .seconds(seconds))
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

    @Test func closingFinishesTheMailboxAndRefusesSends() async throws {
        let context = try Context()
        let pump = try SocketPump(context: context, type: .router, name: "closing") { try $0.bind("tcp://127.0.0.1:*") }
        let start = ContinuousClock.now
        let waiting = Task { await pump.mailbox.next(before: .now + .seconds(20)) }
        try await Task.sleep(for: .milliseconds(20))
        pump.close()
        #expect(await waiting.value == nil)
        #expect(ContinuousClock.now - start < .seconds(10), "the waiting reader must be released by close(), not its deadline")
        #expect(pump.mailbox.isFinished)
        #expect(!pump.send([Frame("late")]))
    }

    /// A reader's deadline is kept by the pump thread: an empty mailbox answers nil at the deadline.
    @Test func aWaitEndsAtItsDeadline() async throws {
        let context = try Context()
        let pump = try SocketPump(context: context, type: .router, name: "deadline") { try $0.bind("tcp://127.0.0.1:*") }
        defer { pump.close() }
        let start = ContinuousClock.now
        #expect(await pump.mailbox.next(before: start + .milliseconds(200)) == nil)
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(200) && waited < .seconds(10), "waited \(waited)")
    }

    /// A wait whose deadline has already passed still gets a message that reached the socket before
    /// it: the pump's thread looks before it answers nil. Here the pump's thread is held (by an actor
    /// on it) while a message arrives, so the mailbox cannot have it yet when the wait begins.
    @Test func aPastDeadlineStillGetsWhatReachedTheSocket() async throws {
        let context = try Context()
        let server = try SocketPump(context: context, type: .router, name: "past-deadline") { try $0.bind("tcp://127.0.0.1:*") }
        let worker = try SocketPump(context: context, type: .dealer, name: "past-deadline-worker") { [endpoint = server.endpoint] in
            try $0.connect(endpoint)
        }
        defer { worker.close(); server.close() }
        // The connection is up before the server's thread is held.
        #expect(worker.send([Frame("first")]))
        #expect(try #require(await nextMessage(server, within: 20)).last?.string == "first")
        let actor = PumpBound(server)
        let holding = HeldFlag()
        async let received = actor.holdThenReceive(seconds: 2, holding: holding)
        let deadline = ContinuousClock.now + .seconds(20)
        while !holding.isSet && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(holding.isSet)
        #expect(worker.send([Frame("second")]))
        let frames = await received
        #expect(frames?.last?.string == "second", "a wait past its deadline must read what reached the socket first")
    }

    /// An actor on a pump's executor runs on the pump's thread, not on the cooperative pool.
    @Test func anActorOnThePumpRunsOnItsThread() async throws {
        let context = try Context()
        let pump = try SocketPump(context: context, type: .router, name: "pump-actor") { try $0.bind("tcp://127.0.0.1:*") }
        defer { pump.close() }
        let actor = PumpBound(pump)
        #expect(await actor.runsOnThePump() == [true, true])
        #expect(!pump.isCurrentThread)
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

/// An actor whose executor is a socket pump, reporting the thread its code runs on.
actor PumpBound {
    let pump: SocketPump
    nonisolated var unownedExecutor: UnownedSerialExecutor { pump.unownedExecutor }

    init(_ pump: SocketPump) { self.pump = pump }

    /// Holds the pump's thread for `seconds` (`holding` is set meanwhile), then waits for a message with
    /// a deadline already past.
    func holdThenReceive(seconds: TimeInterval, holding: HeldFlag) async -> [ReceivedFrame]? {
        holding.set()
        // Blocks the pump's own thread on purpose: nothing reads the socket meanwhile.
        Self.block(seconds: seconds)
        return await pump.mailbox.next(before: .now - .seconds(1))
    }

    private static func block(seconds: TimeInterval) { Thread.sleep(forTimeInterval: seconds) }

    /// Whether the actor's code runs on the pump's thread, before and after a suspension.
    func runsOnThePump() async -> [Bool] {
        let before = pump.isCurrentThread
        try? await Task.sleep(for: .milliseconds(5))
        return [before, pump.isCurrentThread]
    }
}

/// A flag one thread sets and another reads.
final class HeldFlag: @unchecked Sendable {
    // Unchecked: `value` is guarded by `lock`.
    private let lock = NSLock()
    private var value = false

    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
