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

    /// Acts on a shard-join whose header names shard 0's `step`: refuses it on shard 0 and on a lone
    /// server, and when the worker's data differs, its place is not free or shard 0's position cannot be
    /// taken; welcomes a worker already in that place back.
    func shardJoin(_ identity: [UInt8], _ request: ShardJoin, step: Int, slot: Int?) {
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
        if started, currentWorldSize > 0, configuration.mode == .sync,
           let problem = positionProblem(step: step, epoch: request.epoch, offset: request.offset) {
            // Shard 0 went back to its state file (it was killed and resumed) and gives the workers their
            // places anew: this shard starts over from its position with the workers that come again.
            logger.warning("parameter server: \(problem): shard 1 was resumed; starting over from its step with the workers it sends",
                           metadata: ["step": "\(step)"])
            slots = .init(repeating: nil, count: worldSize)
            (joiners, waiting, departed, started) = ([], [], [:], false)
            shardJoin(identity, request, step: step, slot: nil)
            return
        }
        if let slot, let ranks = policy as? any FixedRankPolicy,
           slot != request.slot || slots[slot]!.rank != request.rank || ranks.nextStep(slot: slot) != step {
            move(slot: slot, to: request, step: step, of: ranks)
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
        // A worker that another one's new place pushed out (shard 1 was resumed) comes back with its own.
        let pushedOut = movedOut.remove(identity) != nil
        guard !started || pushedOut else {
            refuseShardJoin(identity, "a sharded run takes no new workers after its first step")
            return
        }
        guard request.slot < slots.count else {
            refuseShardJoin(identity, "slot \(request.slot + 1) is beyond the \(slots.count) places of this run")
            return
        }
        // Sync: the first worker brings shard 0's position, the others must bring the same; fixed ranks: each its own.
        let problem: String? = if let ranks = policy as? any FixedRankPolicy {
            takeClock(step: step, slot: request.slot, of: ranks, pushedOut: pushedOut)
        } else if currentWorldSize == 0 {
            takePosition(step: step, epoch: request.epoch, offset: request.offset)
        } else {
            positionProblem(step: step, epoch: request.epoch, offset: request.offset)
        }
        if let problem {
            refuseShardJoin(identity, problem)
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

    /// Why shard 0's position (`step`, at `offset` of `epoch`) is not this shard's, or nil when it is.
    private func positionProblem(step: Int, epoch: Int, offset: Int) -> String? {
        let own = state
        if (own.step, own.epoch, own.offset) == (step, epoch, offset) { return nil }
        return "shard 1 is at step \(step) (epoch \(epoch + 1), sample \(offset)), this shard at step \(own.step) "
            + "(epoch \(own.epoch + 1), sample \(own.offset))"
    }

    /// Before its first worker, makes shard 0's position this shard's (sync): a shard resumed
    /// from its state file goes on from the step the others are at, and its share loses the updates
    /// between the two; a shard whose shard 0 was resumed from an older state takes that step again,
    /// and its share keeps its updates. Returns why it cannot (nil: it took it, or had it).
    private func takePosition(step: Int, epoch: Int, offset: Int) -> String? {
        guard let problem = positionProblem(step: step, epoch: epoch, offset: offset) else { return nil }
        let from = policy.roundStep
        guard resumedAt != nil || updates > 0 else {
            return problem + ": this shard started anew while the others go on; start it with --resume and its state file"
        }
        var position = state
        position.completedSteps = max(0, position.completedSteps + step - position.step)
        (position.step, position.epoch, position.offset) = (step, epoch, offset)
        position.openEpochs = position.openEpochs.filter { $0.epoch >= epoch }
        do {
            policy = try configuration.makePolicy(sampleCount: dataset.trainCount, worldSize: worldSize, maxSteps: maxSteps,
                                                  checkpointEvery: checkpointEvery, resume: position)
        } catch {
            return problem + ": \(error)"
        }
        epochs = epochs.filter { $0.key == epoch }
        let lost = step - from
        let line = "parameter server: \(shardName(shardIndex)), at step \(from), goes on from shard 1's step \(step) "
            + "(epoch \(epoch + 1), sample \(offset))" + (lost > 0 ? "; its share's updates of the \(lost) steps between are lost" : "")
            + (lost < 0 ? "; its share keeps the updates of the \(-lost) steps shard 1 takes again" : "")
        logger.warning("\(line)", metadata: ["step": "\(step)"])
        return nil
    }

    /// Async and SSP: a shard resumed from its state file, or a worker coming back after another took
    /// its place (`pushedOut`), sets the clock of the rank in `slot` to the step its worker is at on
    /// shard 0 (the share loses or keeps the updates between, as in sync). Returns why it cannot (nil:
    /// it did, or had it).
    private func takeClock(step: Int, slot: Int, of ranks: any FixedRankPolicy, pushedOut: Bool) -> String? {
        let own = ranks.nextStep(slot: slot)
        guard own != step else { return nil }
        guard resumedAt != nil || pushedOut else {
            return "shard 1 has rank step \(step) in slot \(slot + 1), this shard \(own): this shard started anew while the others go on; "
                + "start it with --resume and its state file"
        }
        ranks.moveClock(slot: slot, to: step)
        logger.warning("parameter server: \(shardName(shardIndex)) goes on from shard 1's step \(step) in slot \(slot + 1) (it was at step \(own))",
                       metadata: ["step": "\(step)"])
        return nil
    }

    /// Async and SSP: a worker this shard holds in `slot` asks for another place or step (shard 1 was
    /// killed, resumed from its state file and placed it anew): it takes the place and step shard 1
    /// gave, and a worker this shard holds there leaves it (it comes back with its own new place).
    private func move(slot: Int, to request: ShardJoin, step: Int, of ranks: any FixedRankPolicy) {
        let member = slots[slot]!
        let from = (rank: member.rank, step: ranks.nextStep(slot: slot))
        slots[slot] = nil
        perform(policy.vacated(slot: slot, in: roster))
        if request.slot != slot, let occupant = slots[request.slot] {
            slots[request.slot] = nil
            movedOut.insert(occupant.identity)
            perform(policy.vacated(slot: request.slot, in: roster))
        }
        ranks.moveClock(slot: request.slot, to: step)
        slots[request.slot] = Member(rank: request.rank, identity: member.identity, lastHeard: .now, lastSent: member.lastSent,
                                     sentAtUpdate: updates)
        let line = "parameter server: the worker of rank \(from.rank) at step \(from.step) takes rank \(request.rank) "
            + "from shard 1's step \(step) (shard 1 was resumed)"
        logger.warning("\(line)", metadata: ["rank": "\(request.rank)", "step": "\(step)"])
        perform(policy.admitted(slot: request.slot, in: roster))
    }

    private func refuseShardJoin(_ identity: [UInt8], _ reason: String) {
        let sentence = "\(shardName(shardIndex)) refused the shard-join: \(reason)"
        peerLog("parameter server: \(sentence)")
        send(.error(reason: sentence), to: identity)
    }
}
