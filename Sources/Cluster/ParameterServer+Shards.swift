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
        // The first worker brings shard 0's position; the others must bring the same.
        if let problem = currentWorldSize == 0 ? takePosition(step: step, epoch: request.epoch, offset: request.offset)
                                               : positionProblem(step: step, epoch: request.epoch, offset: request.offset) {
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

    /// Before its first worker, makes shard 0's position this shard's (in sync mode): a shard resumed
    /// from its state file goes on from the step the others are at, and its share loses the updates
    /// between the two; a shard whose shard 0 was resumed from an older state takes that step again,
    /// and its share keeps its updates. Returns why it cannot (nil: it took it, or had it).
    private func takePosition(step: Int, epoch: Int, offset: Int) -> String? {
        guard let problem = positionProblem(step: step, epoch: epoch, offset: offset) else { return nil }
        let from = policy.roundStep
        guard resumedAt != nil || updates > 0 else {
            return problem + ": this shard started anew while the others go on; start it with --resume and its state file"
        }
        guard configuration.mode == .sync else {
            return problem + ": a resumed shard goes on from shard 1's step in sync mode only (this run is in \(configuration.mode.rawValue) mode)"
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

    private func refuseShardJoin(_ identity: [UInt8], _ reason: String) {
        let sentence = "\(shardName(shardIndex)) refused the shard-join: \(reason)"
        peerLog("parameter server: \(sentence)")
        send(.error(reason: sentence), to: identity)
    }
}

/// The epoch reports of a sharded run: shards 1…S−1 send their range of the weights to shard 0 when an
/// epoch ends there; shard 0 reports the epoch (evaluation, checkpoint) once it holds every range.
extension ParameterServer {
    /// Acts on the end of an epoch whose summary holds this shard's range: sends it to shard 0, or
    /// (shard 0) waits for the other ranges.
    func shardEpochEnded(_ summary: EpochSummary) {
        if let shardLink {
            let message = WireMessage(sender: MessageHeader.serverSender, step: UInt64(policy.roundStep), fingerprint: fingerprint,
                                      body: .shardWeights(ShardWeights(shard: shardIndex, epoch: summary.epoch, values: .array(summary.weights))))
            shardLink.send(message.encoded())
            logger.debug("parameter server: sent epoch \(summary.epoch)'s range to shard 1 (\(configuration.shards[0]))")
            if let onEpochEnd { reporting.submit { onEpochEnd(summary) } }
            return
        }
        shardReports.summaries[summary.epoch] = summary
        reportWholeEpochs()
    }

    /// Shard 0: keeps another shard's range of an epoch's weights, if it is one this run expects.
    func receive(_ range: ShardWeights, from identity: [UInt8]) {
        guard isSharded, shardIndex == 0 else {
            drop("parameter server: dropped a shard-weights message: this server is not shard 1 of a sharded run")
            return
        }
        guard range.shard < configuration.shardCount else {
            drop("parameter server: dropped a shard-weights message from shard \(range.shard + 1) of a run with \(configuration.shardCount) shards")
            return
        }
        let expected = ShardLayout.range(of: range.shard, shards: configuration.shardCount, count: modelParameterCount).count
        guard range.values.count == expected, range.epoch <= configuration.epochs else {
            drop("parameter server: dropped \(shardName(range.shard))'s weights of epoch \(range.epoch): "
                 + "\(range.values.count) values (its range holds \(expected)) of a run of \(configuration.epochs) epochs")
            return
        }
        shardReports.ranges[range.epoch, default: [:]][range.shard] = range.values.floats
        reportWholeEpochs()
    }

    /// Reports, oldest first, the epochs for which every shard's range has come.
    private func reportWholeEpochs() {
        for epoch in shardReports.waiting {
            guard let summary = shardReports.takeWhole(epoch: epoch, shards: configuration.shardCount) else { return }
            if let onEpochEnd { reporting.submit { onEpochEnd(summary) } }
        }
    }

    /// Shard 0, once training is done: waits up to the step timeout for the ranges of the epochs not yet
    /// reported, then gives up on those with a log line that names the missing shards.
    func awaitShardReports() async {
        let deadline = ContinuousClock.now + stepTimeout
        while !shardReports.waiting.isEmpty, ContinuousClock.now < deadline {
            guard let frames = await transport.receive(before: deadline, isolation: #isolation) else { break }
            guard let (_, message) = try? WireMessage.decodeRouted(frames: frames, expectedFingerprint: fingerprint,
                                                                   parameterCount: weights.values.count) else { continue }
            if case .shardWeights(let range) = message.body { receive(range, from: []) }
        }
        abandonShardReports(because: "they did not come within \(stepTimeout.seconds) s of the run's end")
    }

    /// Gives up on the epochs whose report still waits for a range, naming the missing shards.
    func abandonShardReports(because reason: String) {
        for epoch in shardReports.waiting {
            let missing = shardReports.missing(epoch: epoch, shards: configuration.shardCount).map { shardName($0) }
            logger.error("parameter server: epoch \(epoch) is not evaluated or saved: the weights of \(missing.joined(separator: ", ")) are missing, and \(reason)",
                         metadata: ["epoch": "\(epoch)"])
        }
        shardReports.summaries = [:]
    }
}
