import Testing
import TestSupport
import ZeroMQ

@Suite("Publish and subscribe", .blocking)
struct PubSubTests {
    @Test func subscriberGetsOnlyItsTopicOnceJoined() throws {
        let context = try Context()
        let publisher = try context.socket(.pub)
        try publisher.bind("tcp://127.0.0.1:*")
        let subscriber = try context.socket(.sub)
        try subscriber.subscribe("weights")
        try subscriber.connect(try publisher.lastEndpoint)

        // Slow joiner: messages published before the subscription reaches the publisher are lost,
        // so publish until one arrives, within a bounded number of rounds.
        var received: [String]?
        for _ in 0..<200 where received == nil {
            try publisher.send(["gradients", "dropped"])
            try publisher.send(["weights", "step 1"])
            received = strings(try subscriber.receiveMultipart(timeout: 5))
        }
        #expect(received == ["weights", "step 1"])
        while let more = try subscriber.tryReceiveMultipart() {
            #expect(more[0].string == "weights")
        }

        try subscriber.unsubscribe("weights")
        try subscriber.subscribe("gradients")
        var switched: [String]?
        for _ in 0..<200 where switched == nil {
            try publisher.send(["gradients", "step 2"])
            if let frames = strings(try subscriber.receiveMultipart(timeout: 5)), frames[0] == "gradients" {
                switched = frames
            }
        }
        #expect(switched == ["gradients", "step 2"])
    }
}
