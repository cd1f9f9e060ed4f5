/// Shard 0 of a sharded run: the epoch reports that wait for the other shards' ranges of the weights,
/// and the ranges that came before their epoch ended here (async shards need not end an epoch together).
struct ShardReports {
    /// The summaries of epochs that ended here (by epoch, from 1), holding shard 0's range as weights.
    var summaries: [Int: EpochSummary] = [:]
    /// The ranges of shards 1…S−1, by epoch and shard index.
    var ranges: [Int: [Int: [Float]]] = [:]

    /// The epochs still waiting for a range, oldest first.
    var waiting: [Int] { summaries.keys.sorted() }

    /// The summary of `epoch` with every shard's range put together in shard order, once each of the
    /// `shards` has sent its range; forgets that epoch's parts.
    mutating func takeWhole(epoch: Int, shards: Int) -> EpochSummary? {
        guard var summary = summaries[epoch], let parts = ranges[epoch], parts.count == shards - 1 else { return nil }
        summaries[epoch] = nil
        ranges[epoch] = nil
        for shard in 1..<shards { summary.weights += parts[shard]! }
        return summary
    }

    /// The shard indices (1…S−1) whose range of `epoch` has not come.
    func missing(epoch: Int, shards: Int) -> [Int] {
        (1..<shards).filter { ranges[epoch]?[$0] == nil }
    }
}
