import Datasets
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// A worker spoken by hand: it joins a server with a data set's description, and then the test
/// sends what it likes and reads the answers.
struct ScriptedPeer {
    let pump: SocketPump
    /// The welcome the server answered the join with.
    let welcome: Welcome

    /// Connects to `endpoint` as `name`, says hello and joins with `set`'s description.
    static func join(context: Context, endpoint: String, set: LabeledDataset, name: String) async throws -> ScriptedPeer {
        let pump = try SocketPump(context: context, type: .dealer, name: name) {
            try $0.set(.linger, 1000)
            try $0.connect(endpoint)
        }
        pump.send(WireMessage(sender: MessageHeader.unassignedSender, body: .hello).encoded())
        _ = try await next(from: pump, within: 10)
        pump.send(WireMessage(sender: MessageHeader.unassignedSender, body: .join(DatasetDescription(describing: set, testCount: 0))).encoded())
        guard case .welcome(let welcome) = try await next(from: pump, within: 10).body else {
            throw ClusterError.refused(reason: "expected welcome")
        }
        return ScriptedPeer(pump: pump, welcome: welcome)
    }

    /// The server's next message other than a heartbeat, within `seconds`.
    func next(within seconds: Int = 10) async throws -> WireMessage { try await Self.next(from: pump, within: seconds) }

    private static func next(from pump: SocketPump, within seconds: Int) async throws -> WireMessage {
        while true {
            let frames = try #require(await pump.mailbox.next(before: .now + .seconds(seconds)), "nothing from the server within \(seconds) s")
            let message = try WireMessage.decode(frames: frames, expectedFingerprint: nil, parameterCount: nil)
            if message.type != .heartbeat { return message }
        }
    }

    /// Sends a push of `step` as the peer's rank.
    func push(_ push: GradientPush, step: Int, fingerprint: UInt64) {
        send(.pushGradient(push), step: step, fingerprint: fingerprint)
    }

    /// Sends a message with `body` for `step` as the peer's rank.
    func send(_ body: MessageBody, step: Int, fingerprint: UInt64) {
        pump.send(WireMessage(sender: UInt32(welcome.rank), step: UInt64(step), fingerprint: fingerprint, body: body).encoded())
    }
}
