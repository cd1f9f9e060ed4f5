import Foundation

/// Per-epoch accounting and the epoch reports.
extension ParameterServer {
    /// Adds one push to its epoch's accounting; a rejected one counts as a push without samples.
    func record(_ push: GradientPush, rank: Int, epoch: Int, wait: Double, rejected: Bool) {
        var progress = epochs[epoch] ?? EpochProgress()
        progress.pushes += 1
        progress[rank: rank].pushes += 1
        progress[rank: rank].waitSeconds += wait
        if rejected {
            progress[rank: rank].rejected += 1
            rejectedPushes += 1
            peerLog("parameter server: rejected the gradient of rank \(rank) in epoch \(epoch + 1): its loss or gradient holds "
                + "NaN or infinity; not applied (\(rejectedPushes) rejected so far)")
        } else {
            progress.lossSum += push.meanLoss * Double(push.sampleCount)
            progress.samples += push.sampleCount
            progress[rank: rank].samples += push.sampleCount
        }
        epochs[epoch] = progress
    }

    /// Calls `onEpochEnd` for `epoch` (0-based), which has just ended, and forgets its accounting.
    func reportEpoch(_ epoch: Int) {
        let progress = epochs.removeValue(forKey: epoch) ?? EpochProgress()
        let now = ContinuousClock.now
        log("parameter server: epoch \(epoch + 1) done after \(updates) updates")
        onEpochEnd?(EpochSummary(
            epoch: epoch + 1, weights: Array(weights.values),
            trainLoss: progress.samples > 0 ? progress.lossSum / Double(progress.samples) : 0,
            samples: progress.samples, seconds: (now - (epochClock ?? now)).seconds, updates: progress.updates,
            updateSeconds: progress.updateSeconds, worldSize: currentWorldSize, ranks: progress.ranks))
        // The report (evaluation, checkpoint) is not training time.
        epochClock = .now
    }

    /// The progress and each worker's state now; rates count from the previous status.
    func status(now: ContinuousClock.Instant) -> ServerStatus {
        let seconds = max((now - lastStatus).seconds, 1e-9)
        lastStatus = now
        var workers: [WorkerStatus] = []
        for slot in slots.indices {
            guard let member = slots[slot] else { continue }
            let done = member.samples - member.samplesAtStatus
            slots[slot]!.samplesAtStatus = member.samples
            workers.append(WorkerStatus(rank: member.rank, step: configuration.mode == .sync ? step : slotSteps[slot],
                                        samplesPerSecond: Double(done) / seconds, secondsSinceHeard: (now - member.lastHeard).seconds))
        }
        let (epoch, fraction): (Int, Double)
        switch configuration.mode {
        case .sync:
            (epoch, fraction) = (cursor.epoch, Double(cursor.offset) / Double(dataset.trainCount))
        case .async:
            let lowest = slotSteps.min() ?? 0
            (epoch, fraction) = (lowest / plan.stepsPerEpoch, Double(lowest % plan.stepsPerEpoch) / Double(plan.stepsPerEpoch))
        }
        let progress = epochs[epoch]
        return ServerStatus(
            epoch: min(epoch, configuration.epochs - 1) + 1, epochs: configuration.epochs, epochProgress: fraction,
            step: workers.map(\.step).min() ?? step, worldSize: workers.count,
            samplesPerSecond: workers.reduce(0) { $0 + $1.samplesPerSecond },
            loss: progress.flatMap { $0.samples > 0 ? $0.lossSum / Double($0.samples) : nil }, workers: workers.sorted { $0.rank < $1.rank })
    }
}
