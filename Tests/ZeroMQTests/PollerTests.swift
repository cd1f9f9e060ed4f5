import Foundation
import Testing
import TestSupport
import ZeroMQ

@Suite("Poller", .blocking)
struct PollerTests {
    @Test func reportsReadinessOnTheRightSocket() throws {
        let context = try Context()
        let quiet = try context.socket(.pull), busy = try context.socket(.pull)
        try quiet.bind("inproc://poll-quiet")
        try busy.bind("inproc://poll-busy")
        let push = try context.socket(.push)
        try push.connect("inproc://poll-busy")

        let poller = Poller()
        let quietIndex = poller.register(quiet)
        let busyIndex = poller.register(busy)
        #expect(try poller.poll(timeout: 0).isEmpty)

        try push.send(["work"])
        let ready = try poller.poll(timeout: 1000)
        #expect(ready[busy] == .readable)
        #expect(ready[quiet].isEmpty)
        #expect(ready[busyIndex] == .readable && ready[quietIndex].isEmpty)
        #expect(strings(try busy.tryReceiveMultipart()) == ["work"])
    }

    @Test func timesOutEmptyWithinItsBound() throws {
        let context = try Context()
        let pull = try context.socket(.pull)
        try pull.bind("inproc://poll-timeout")
        let poller = Poller()
        poller.register(pull)
        let (ready, milliseconds) = try timed { try poller.poll(timeout: 30) }
        #expect(ready.isEmpty)
        #expect(milliseconds >= 25 && milliseconds < 5000, "took \(milliseconds) ms")
    }

    @Test func aPipeWakesThePoll() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        let context = try Context()
        let pull = try context.socket(.pull)
        try pull.bind("inproc://poll-pipe")
        let poller = Poller()
        poller.register(pull)
        poller.register(fileDescriptor: ends[0])

        var byte: UInt8 = 1
        #expect(write(ends[1], &byte, 1) == 1)
        let ready = try poller.poll(timeout: 1000)
        #expect(ready[fileDescriptor: ends[0]] == .readable)
        #expect(ready[pull].isEmpty)
    }

    @Test func reportsWritability() throws {
        let context = try Context()
        let pull = try context.socket(.pull), push = try context.socket(.push)
        try pull.bind("inproc://poll-writable")
        let poller = Poller()
        poller.register(push, for: [.readable, .writable])
        // A PUSH socket without peers cannot send.
        #expect(try poller.poll(timeout: 0)[push].isEmpty)
        try push.connect("inproc://poll-writable")
        #expect(try poller.poll(timeout: 1000)[push] == .writable)
    }

    @Test func aClosedSocketIsReported() throws {
        let context = try Context()
        let pull = try context.socket(.pull)
        let poller = Poller()
        poller.register(pull)
        pull.close()
        let error = try #require(throws: ZMQError.self) { try poller.poll(timeout: 0) }
        #expect(error.code == ENOTSOCK)
    }
}
