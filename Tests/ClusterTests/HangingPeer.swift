import Datasets
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// A worker spoken by hand that joins properly, pushes valid zero gradients for a number of steps and
/// then hangs: its connection stays open, but it says nothing more (not even heartbeats).
struct HangingPeer {
    let pump: SocketPump
    /// The rank the server gave it.
    let rank: Int

    /// Joins the server at `endpoint` with `set`'s description and pushes `steps` gradients (in
    /// local-SGD mode, zero changes for rounds of `stepsPerRound`), following the welcomes it gets;
    /// returns once it has gone silent.
    static func start(context: Context, endpoint: String, set: LabeledDataset, fingerprint: UInt64, parameterCount: Int,
                      steps: Int, stepsPerRound: Int = 1) async throws -> HangingPeer {
        let pump = try SocketPump(context: context, type: .dealer, name: "hanging-peer") {
            try $0.set(.linger, 0)
            try $0.connect(endpoint)
        }
        func next() async throws -> WireMessage {
            while true {
                let frames = try #require(await pump.mailbox.next(before: .now + .seconds(20)), "the server did not answer")
                let message = try WireMessage.decode(frames: frames, expectedFingerprint: nil, parameterCount: nil)
                if message.type != .heartbeat { return message }
            }
        }
        pump.send(WireMessage(sender: MessageHeader.unassignedSender, body: .hello).encoded())
        _ = try await next()
        pump.send(WireMessage(sender: MessageHeader.unassignedSender, body: .join(DatasetDescription(describing: set, testCount: 0))).encoded())
        guard case .welcome(var welcome) = try await next().body else { throw ClusterError.refused(reason: "expected welcome") }
        var step = 0, pushed = 0
        var cursor = EpochCursor(sampleCount: set.count, batchSizePerWorker: welcome.configuration.batchSizePerWorker,
                                 epoch: welcome.epoch, offset: welcome.offset)
        while pushed < steps {
            let samples = cursor.roundSampleCount(stepsPerRound, slot: welcome.slot, worldSize: welcome.worldSize)
            let gradient: FloatPayload = samples == 0 ? .array([]) : .array([Float](repeating: 0, count: parameterCount))
            pump.send(WireMessage(sender: UInt32(welcome.rank), step: UInt64(step), fingerprint: fingerprint,
                                  body: .pushGradient(GradientPush(sampleCount: samples, meanLoss: samples == 0 ? 0 : 1, gradient: gradient))).encoded())
            pushed += 1
            let reply = try await next()
            switch reply.body {
            case .weights:
                cursor.advance(round: stepsPerRound, worldSize: welcome.worldSize)
                step += 1
            case .welcome(let again):
                welcome = again
                cursor = EpochCursor(sampleCount: set.count, batchSizePerWorker: again.configuration.batchSizePerWorker,
                                     epoch: again.epoch, offset: again.offset)
                step = Int(reply.step)
            default:
                throw ClusterError.refused(reason: "unexpected \(reply.type)")
            }
        }
        return HangingPeer(pump: pump, rank: welcome.rank)
    }
}

/// What a server reported about its workers joining and leaving.
final class MembershipChanges: @unchecked Sendable {
    // Unchecked: `stored` is guarded by `lock`.
    private let lock = NSLock()
    private var stored: [MembershipChange] = []

    /// Appends one change.
    func append(_ change: MembershipChange) { lock.withLock { stored.append(change) } }

    /// The changes so far, in order.
    var all: [MembershipChange] { lock.withLock { stored } }

    /// Waits (bounded) until a change satisfies `predicate`.
    func wait(for predicate: (MembershipChange) -> Bool, seconds: Double = 20) async -> MembershipChange? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            // Searched under the lock: a copy read after it would be a copy-on-write hand-off between
            // threads that ThreadSanitizer cannot follow (docs/reliability.md).
            if let change = lock.withLock({ stored.first(where: predicate) }) { return change }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }
}
