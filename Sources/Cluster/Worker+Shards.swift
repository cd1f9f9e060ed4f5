import Datasets
import Engine
import Foundation
import Transport

/// Runs whose parameters are split over server shards: the worker's own connection goes to shard 0,
/// which gives its place; it connects to the other shards the configuration names, takes the same
/// place at each (shard-join), pushes each shard its range of every gradient and puts the weights
/// together from every shard's answer.
extension Worker {
    /// The ranges of the flat parameters the shards of `configuration` own, shard 0 first.
    static func shardRanges(_ configuration: TrainingConfiguration, parameterCount: Int) -> [Range<Int>] {
        ShardLayout.ranges(shards: configuration.shardCount, count: parameterCount)
    }

    /// How errors name follower `index` (shard `index + 1` of the run).
    func followerName(_ index: Int, of configuration: TrainingConfiguration) -> String {
        "shard \(index + 2) of \(configuration.shardCount) (\(configuration.shards[index + 1]))"
    }

    /// Connects to shards 1…S−1 once, asks each for the place of `assignment` and returns their
    /// weights, in shard order; throws if a shard refuses or its welcome differs from shard 0's.
    func joinFollowers(_ configuration: TrainingConfiguration, description: DatasetDescription, assignment: Assignment,
                       model: Model, ranges: [Range<Int>]) async throws -> [FloatPayload] {
        guard configuration.shardCount > 1 else { return [] }
        if followers.isEmpty {
            guard let connect else {
                throw ClusterError.refused(reason: "the run splits its parameters over \(configuration.shardCount) server shards, "
                                           + "and this worker was not given a way to connect to more than one server")
            }
            for (index, endpoint) in configuration.shards.dropFirst().enumerated() {
                do {
                    let transport = try connect(endpoint)
                    followerTransports.append(transport)
                    followers.append(ParameterClient(transport: transport, settings: settings))
                } catch {
                    throw ClusterError.atShard(followerName(index, of: configuration), .refused(reason: "cannot connect: \(error)"))
                }
            }
        }
        linkHeartbeats(rank: assignment.rank, fingerprint: model.fingerprint)
        for follower in followers {
            follower.shardJoin(rank: assignment.rank, slot: assignment.slot, step: assignment.step, cursor: assignment.cursor, description)
        }
        var weights: [FloatPayload] = []
        for (index, follower) in followers.enumerated() {
            let name = followerName(index, of: configuration)
            let answer: (WireMessage, Welcome)?
            do {
                answer = try await follower.awaitWelcome(fingerprint: model.fingerprint)
            } catch let error as ClusterError {
                throw ClusterError.atShard(name, error)
            }
            weights.append(try adopt(answer, from: index, against: assignment, configuration: configuration,
                                     count: ranges[index + 1].count, model: model))
        }
        return weights
    }

    /// Follower `index`'s share of the weights from its answer to a shard-join, once its welcome is
    /// checked against `assignment` and the follower is set up for it; throws when it said stop or differs.
    private func adopt(_ answer: (WireMessage, Welcome)?, from index: Int, against assignment: Assignment,
                       configuration: TrainingConfiguration, count: Int, model: Model) throws -> FloatPayload {
        let name = followerName(index, of: configuration)
        guard let (header, welcome) = answer else { throw ClusterError.shardsDisagree("\(name) said stop while shard 1 goes on") }
        try check(welcome, step: header.step, fingerprint: header.fingerprint, of: name, against: assignment,
                  configuration: configuration, count: count, model: model)
        followers[index].rank = assignment.rank
        followers[index].configure(for: configuration, parameterCount: count)
        followers[index].received(whole: welcome.weights)
        return welcome.weights
    }

    /// Throws, telling the shard, unless its welcome gives the place, step and set-up of shard 0's.
    private func check(_ welcome: Welcome, step: UInt64, fingerprint: UInt64, of name: String, against assignment: Assignment,
                       configuration: TrainingConfiguration, count: Int, model: Model) throws {
        var differences: [String] = []
        if welcome.rank != assignment.rank || welcome.slot != assignment.slot || welcome.worldSize != assignment.worldSize {
            differences.append("rank \(welcome.rank), slot \(welcome.slot + 1) of \(welcome.worldSize) against rank \(assignment.rank), "
                               + "slot \(assignment.slot + 1) of \(assignment.worldSize)")
        }
        if Int(step) != assignment.step || welcome.epoch != assignment.cursor.epoch || welcome.offset != assignment.cursor.offset {
            differences.append("step \(step) (epoch \(welcome.epoch + 1), sample \(welcome.offset)) against step \(assignment.step) "
                               + "(epoch \(assignment.cursor.epoch + 1), sample \(assignment.cursor.offset))")
        }
        if welcome.configuration != configuration { differences.append("another training configuration") }
        if fingerprint != model.fingerprint || welcome.weights.count != count {
            differences.append("fingerprint 0x\(String(fingerprint, radix: 16)) with \(welcome.weights.count) values, "
                               + "not 0x\(String(model.fingerprint, radix: 16)) with \(count)")
        }
        guard !differences.isEmpty else { return }
        let detail = "\(name) welcomed the worker with " + differences.joined(separator: "; ")
        client.reportError("the worker cannot take part: the server shards disagree: \(detail)", sender: UInt32(assignment.rank),
                           fingerprint: model.fingerprint)
        throw ClusterError.shardsDisagree(detail)
    }

    /// Pushes each follower its range of `gradients` with `push`'s counts (no batch: an empty push to each).
    func pushToFollowers(_ push: GradientPush, gradients: UnsafeBufferPointer<Float>, owner: AnyObject & Sendable,
                         ranges: [Range<Int>], step: Int, rank: Int, fingerprint: UInt64) {
        for (index, follower) in followers.enumerated() {
            var part = push
            if push.sampleCount > 0 { part.gradient = .borrowed(UnsafeBufferPointer(rebasing: gradients[ranges[index + 1]]), owner: owner) }
            follower.push(part, step: step, rank: rank, fingerprint: fingerprint)
        }
    }

    /// The followers' weights for the step shard 0 answered with `lead` (the push of `assignment`'s step
    /// before it; `next` where the next step starts), in shard order; nil when shard 0 said stop. A follower
    /// that went silent is asked to take the worker back (see `rejoin`). Throws when an answer does not fit.
    func followerReplies(fitting lead: ParameterClient.Reply, after assignment: Assignment, next: EpochCursor, model: Model,
                         configuration: TrainingConfiguration, ranges: [Range<Int>],
                         description: DatasetDescription) async throws -> [FloatPayload]? {
        if case .stop = lead { return nil }
        let (step, rank) = (assignment.step, assignment.rank)
        var weights: [FloatPayload] = []
        for (index, follower) in followers.enumerated() {
            let name = followerName(index, of: configuration)
            let reply: ParameterClient.Reply
            do {
                reply = try await follower.awaitReply(after: step, rank: rank, fingerprint: model.fingerprint,
                                                      parameterCount: ranges[index + 1].count)
            } catch ClusterError.noReply(_, let seconds) where reconnectTimeout > .zero {
                guard case .weights(_, let nextStep) = lead else { throw ClusterError.atShard(name, .serverLost(seconds: seconds)) }
                var place = assignment
                (place.step, place.cursor) = (nextStep, next)
                logger.warning("worker: nothing from \(name) within \(seconds) s; asking it to take this worker back from step \(nextStep) for up to \(reconnectTimeout.seconds) s")
                weights.append(try await rejoin(index, at: place, model: model, configuration: configuration, count: ranges[index + 1].count,
                                                description: description))
                continue
            } catch let error as ClusterError {
                throw ClusterError.atShard(name, error)
            }
            switch (lead, reply) {
            case (.weights, .weights(let payload, _)):
                weights.append(payload)
            case (.welcome(let first, let leadStep, _), .welcome(let welcome, let followerStep, _)):
                guard leadStep == followerStep, welcome.rank == first.rank, welcome.slot == first.slot,
                      welcome.worldSize == first.worldSize, welcome.weights.count == ranges[index + 1].count else {
                    throw ClusterError.shardsDisagree("after step \(step), shard 1 welcomed the worker to slot \(first.slot + 1) of "
                                                      + "\(first.worldSize) from step \(leadStep), \(name) to slot \(welcome.slot + 1) of "
                                                      + "\(welcome.worldSize) from step \(followerStep)")
                }
                follower.configure(for: configuration, parameterCount: ranges[index + 1].count)
                follower.received(whole: welcome.weights)
                weights.append(welcome.weights)
            default:
                throw ClusterError.shardsDisagree("after step \(step), shard 1 answered with \(lead.name), \(name) with \(reply.name)")
            }
        }
        return weights
    }

    /// Asks follower `index`, gone silent (killed, and maybe resumed from its state file), for the place
    /// of `place` from its step and position, with growing pauses (0.5 s doubling to 5 s), for up to the
    /// reconnect timeout; returns its share of the weights once it welcomes the worker.
    func rejoin(_ index: Int, at place: Assignment, model: Model, configuration: TrainingConfiguration, count: Int,
                description: DatasetDescription) async throws -> FloatPayload {
        let follower = followers[index], name = followerName(index, of: configuration)
        let deadline = ContinuousClock.now + reconnectTimeout
        var pause = Duration.milliseconds(500)
        while true {
            follower.shardJoin(rank: place.rank, slot: place.slot, step: place.step, cursor: place.cursor, description)
            let answer: (WireMessage, Welcome)?
            do {
                answer = try await follower.awaitWelcome(fingerprint: model.fingerprint, deadline: min(deadline, .now + pause))
            } catch ClusterError.noReply {
                guard ContinuousClock.now < deadline else { throw ClusterError.atShard(name, .serverLost(seconds: reconnectTimeout.seconds)) }
                pause = min(pause * 2, .seconds(5))
                continue
            } catch let error as ClusterError {
                throw ClusterError.atShard(name, error)
            }
            let weights = try adopt(answer, from: index, against: place, configuration: configuration, count: count, model: model)
            logger.notice("worker: \(name) took this worker back at step \(place.step)", metadata: ["step": "\(place.step)"])
            return weights
        }
    }

    /// Lets every shard's client send its heartbeats (as `rank`) while the worker waits on any one of them.
    func linkHeartbeats(rank: Int, fingerprint: UInt64) {
        let clients = [client] + followers
        for client in clients {
            let others = clients.filter { $0 !== client }.map { WeakClient($0) }
            client.onWake = { for other in others { other.client?.heartbeatIfDue(sender: UInt32(rank), fingerprint: fingerprint) } }
        }
    }
}

/// A client another client's wake hook reaches without keeping it alive.
private struct WeakClient {
    weak var client: ParameterClient?
    init(_ client: ParameterClient) { self.client = client }
}

extension ParameterClient.Reply {
    /// How errors name the reply: "weights", "a welcome", "stop".
    var name: String {
        switch self {
        case .weights(_, let step): "the weights for step \(step)"
        case .welcome(_, let step, _): "a welcome from step \(step)"
        case .stop: "stop"
        }
    }
}

/// The transports of a worker's connections to shards 1…S−1, to close with its own.
final class FollowerTransports: @unchecked Sendable {
    // Unchecked: `transports` is guarded by `lock`.
    private let lock = NSLock()
    private var transports: [any MessageTransport] = []

    func append(_ transport: any MessageTransport) { lock.withLock { transports.append(transport) } }

    /// Closes every transport and returns once they are closed.
    func close() async {
        for transport in lock.withLock({ transports }) { await transport.close() }
    }
}
