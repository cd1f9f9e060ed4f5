import Foundation
import Logging

/// Per-epoch accounting and the epoch reports.
extension ParameterServer {
    /// Adds one push to its epoch's accounting: how long it waited for its update, how many updates
    /// were applied between the weights it was computed on and its own (`staleness`), and how many
    /// steps its worker was ahead of the slowest when given those weights. A push rejected (`rejection`
    /// says why) counts as one without samples.
    func record(_ push: GradientPush, rank: Int, epoch: Int, wait: Double, staleness: Int, stepsAhead: Int, rejection: String?) {
        var progress = epochs[epoch] ?? EpochProgress()
        progress.pushes += 1
        progress[rank: rank].pushes += 1
        progress[rank: rank].waitSeconds += wait
        progress[rank: rank].stalenessSum += staleness
        progress[rank: rank].maxStaleness = max(progress[rank: rank].maxStaleness, staleness)
        progress[rank: rank].countStepsAhead(stepsAhead)
        metrics.recordPush(rank: rank, waitSeconds: wait, staleness: staleness, rejected: rejection != nil)
        if let rejection {
            progress[rank: rank].rejected += 1
            rejectedPushes += 1
            peerLog("parameter server: rejected the gradient of rank \(rank) in epoch \(epoch + 1): \(rejection); "
                + "not applied (\(rejectedPushes) rejected so far)", metadata: ["rank": "\(rank)"])
        } else {
            progress.lossSum += push.meanLoss * Double(push.sampleCount)
            progress.samples += push.sampleCount
            progress[rank: rank].samples += push.sampleCount
        }
        epochs[epoch] = progress
    }

    /// Gives `onEpochEnd` the summary of `epoch` (0-based), which has just ended, on the reporting
    /// thread, and forgets its accounting.
    func reportEpoch(_ epoch: Int) {
        var progress = epochs.removeValue(forKey: epoch) ?? EpochProgress()
        for (rank, bytes) in traffic.removeValue(forKey: epoch) ?? [:] {
            (progress[rank: rank].sentBytes, progress[rank: rank].receivedBytes) = bytes
        }
        let now = ContinuousClock.now
        logger.info("parameter server: epoch \(epoch + 1) done after \(updates) updates", metadata: ["epoch": "\(epoch + 1)"])
        let seconds = (now - (epochClock ?? now)).seconds
        epochClock = now
        // A state write queued before this report must not take a later state (see `saveState`).
        queuedState = nil
        guard onEpochEnd != nil || isSharded else { return }
        let summary = EpochSummary(
            epoch: epoch + 1, weights: Array(weights.values),
            trainLoss: progress.samples > 0 ? progress.lossSum / Double(progress.samples) : 0,
            samples: progress.samples, seconds: seconds, updates: progress.updates,
            updateSeconds: progress.updateSeconds, worldSize: currentWorldSize, ranks: progress.ranks)
        if isSharded {
            shardEpochEnded(summary)
            return
        }
        // The report (an evaluation, a checkpoint) runs off the socket thread while training goes on.
        if let onEpochEnd { reporting.submit { onEpochEnd(summary) } }
    }

    /// The progress and each worker's state now; rates count from the previous status.
    func status(now: ContinuousClock.Instant) -> ServerStatus {
        let seconds = max((now - lastStatus).seconds, 1e-9)
        lastStatus = now
        var workers: [WorkerStatus] = []
        // The worker a step waits on, once that is longer than the threshold: asked once, not per worker.
        let straggling = policy.straggler(in: roster).flatMap { now - $0.since >= stragglerThreshold ? ($0.slot, now - $0.since) : nil }
        for slot in slots.indices {
            guard let member = slots[slot] else { continue }
            let done = member.samples - member.samplesAtStatus
            slots[slot]!.samplesAtStatus = member.samples
            let moved = member.bytes - member.bytesAtStatus
            slots[slot]!.bytesAtStatus = member.bytes
            workers.append(WorkerStatus(rank: member.rank, step: policy.nextStep(slot: slot),
                                        samplesPerSecond: Double(done) / seconds, secondsSinceHeard: (now - member.lastHeard).seconds,
                                        bytesPerSecond: Double(moved) / seconds))
            if let (waitedOn, waited) = straggling, waitedOn == slot { workers[workers.count - 1].stragglingSeconds = waited.seconds }
        }
        let (epoch, fraction) = policy.epochProgress
        let progress = epochs[epoch]
        return ServerStatus(
            epoch: min(epoch, configuration.epochs - 1) + 1, epochs: configuration.epochs, epochProgress: fraction,
            step: workers.map(\.step).min() ?? policy.roundStep, worldSize: workers.count,
            samplesPerSecond: workers.reduce(0) { $0 + $1.samplesPerSecond },
            loss: progress.flatMap { $0.samples > 0 ? $0.lossSum / Double($0.samples) : nil }, workers: workers.sorted { $0.rank < $1.rank })
    }
}

extension ParameterServer {
    /// Names the worker a step has waited on for longer than the straggler threshold (once per wait):
    /// a log line and `onStraggler`.
    func nameStraggler(now: ContinuousClock.Instant) {
        guard started, let (slot, step, since) = policy.straggler(in: roster), let member = slots[slot] else { return }
        let waited = now - since
        guard waited >= stragglerThreshold, namedStraggler.map({ $0 != (member.rank, step) }) ?? true else { return }
        namedStraggler = (member.rank, step)
        logger.warning("\(String(format: "parameter server: step %d waits on rank %d for %.1f s (straggler; heard from %.1f s ago)", step, member.rank, waited.seconds, (now - member.lastHeard).seconds))",
                       metadata: ["rank": "\(member.rank)", "step": "\(step)"])
        if let onStraggler {
            let straggler = Straggler(rank: member.rank, step: step, seconds: waited.seconds)
            reporting.submit { onStraggler(straggler) }
        }
    }
}
