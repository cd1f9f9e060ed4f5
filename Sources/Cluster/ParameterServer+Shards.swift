import Logging

/// Runs whose parameters are split over server shards: shard 0 gives the workers their ranks and
/// slots as a lone server does; the other shards take each worker at the place shard 0 gave it
/// (shard-join), so every shard sums the same workers' pushes in the same order.
extension ParameterServer {
    /// Whether the run's parameters are split over several server shards.
    var isSharded: Bool { configuration.shardCount > 1 }

    /// How errors name shard `index`: "shard 2 of 3 (tcp://b:5555)".
    func shardName(_ index: Int) -> String {
        "shard \(index + 1) of \(configuration.shardCount)" + (isSharded ? " (\(configuration.shards[index]))" : "")
    }

    /// Refuses a hello or join sent to a shard other than shard 0, naming where workers connect.
    func refuseOnFollower(_ identity: [UInt8], type: MessageType) {
        let reason = "this server is \(shardName(shardIndex)); workers connect to shard 1, \(configuration.shards[0]), "
            + "which tells them the other shards (a \(type) goes there)"
        peerLog("parameter server: refused a \(type): \(reason)")
        send(.error(reason: reason), to: identity)
    }

    /// Acts on a shard-join: refuses it on shard 0 and on a lone server, and when the worker's data
    /// differs or its place is not free; welcomes a worker already in that place back.
    func shardJoin(_ identity: [UInt8], _ request: ShardJoin, slot: Int?) {
        guard shardIndex > 0 else {
            let reason = isSharded
                ? "this server is shard 1, which gives the workers their places: send join, not shard-join"
                : "this server holds every parameter (no shards): send join, not shard-join"
            peerLog("parameter server: refused a shard-join: \(reason)")
            send(.error(reason: reason), to: identity)
            return
        }
        guard request.dataset == dataset else {
            let reason = "data set differs: the server has \(Self.describe(dataset)), the worker has \(Self.describe(request.dataset))"
            peerLog("parameter server: refused a worker: \(reason)")
            send(.error(reason: reason), to: identity)
            return
        }
        if let slot {
            guard slots[slot]!.rank == request.rank, slot == request.slot else {
                refuseShardJoin(identity, "it takes part as rank \(slots[slot]!.rank) in slot \(slot + 1) already")
                return
            }
            peerLog("parameter server: rank \(request.rank) joined again; welcomed back", level: .notice, metadata: ["rank": "\(request.rank)"])
            slots[slot]!.welcomed = false
            perform(policy.admitted(slot: slot, in: roster))
            return
        }
        guard !started else {
            refuseShardJoin(identity, "a sharded run takes no new workers after its first step")
            return
        }
        guard request.slot < slots.count else {
            refuseShardJoin(identity, "slot \(request.slot + 1) is beyond the \(slots.count) places of this run")
            return
        }
        guard slots[request.slot] == nil, !slots.contains(where: { $0?.rank == request.rank }) else {
            refuseShardJoin(identity, "slot \(request.slot + 1) or rank \(request.rank) is taken by another worker")
            return
        }
        nextRank = max(nextRank, request.rank + 1)
        slots[request.slot] = Member(rank: request.rank, identity: identity, lastHeard: .now, lastSent: .now, sentAtUpdate: updates)
        logger.info("parameter server: rank \(request.rank) joined (\(currentWorldSize) of \(worldSize) workers)",
                    metadata: ["rank": "\(request.rank)"])
        report(.joined, rank: request.rank)
        if currentWorldSize == worldSize {
            started = true
            lastProgress = .now
            epochClock = .now
        }
        perform(policy.admitted(slot: request.slot, in: roster))
    }

    private func refuseShardJoin(_ identity: [UInt8], _ reason: String) {
        let sentence = "\(shardName(shardIndex)) refused the shard-join: \(reason)"
        peerLog("parameter server: \(sentence)")
        send(.error(reason: sentence), to: identity)
    }
}
