import Logging

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
