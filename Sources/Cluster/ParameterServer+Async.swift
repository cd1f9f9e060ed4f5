import Datasets
import Foundation

/// Async mode: each push applied on arrival, its sender alone sent the newest weights.
extension ParameterServer {
    /// Applies a push once it matches its slot's step and slice.
    func acceptAsync(_ push: GradientPush, from slot: Int, message: WireMessage) {
        let rank = slots[slot]!.rank
        let step = slotSteps[slot]
        guard message.step == UInt64(step), step < asyncTotalSteps else {
            peerLog("parameter server: dropped a push-gradient of rank \(rank) for step \(message.step) (expected step \(step))")
            return
        }
        let expected = plan.positions(step: step % plan.stepsPerEpoch, rank: slot).count
        guard push.sampleCount == expected else {
            peerLog("parameter server: dropped a push-gradient of rank \(rank) with \(push.sampleCount) samples, expected \(expected)")
            return
        }
        applyAsync(push, from: slot, step: step)
    }

    /// Applies one push's gradient at once, weighted by its share of its global batch, and sends its
    /// worker the newest weights, or stop after its slot's last step.
    private func applyAsync(_ push: GradientPush, from slot: Int, step: Int) {
        let started = ContinuousClock.now
        let member = slots[slot]!
        let staleness = updates - member.sentAtUpdate
        var rejected = push.sampleCount > 0 && !push.meanLoss.isFinite
        if push.sampleCount > 0 && !rejected {
            // The push's share of its global batch, nᵣ / Σn as sync weights it: a round of N pushes moves the
            // weights as far as one sync step, only each on the newest weights.
            let share = Float(push.sampleCount) / Float(plan.globalPositions(step: step % plan.stepsPerEpoch).count)
            let finite = gradient.withUnsafeMutableBufferPointer { push.gradient.scaled(by: share, into: $0, accumulating: false) }
            if finite { updateWeights() } else { rejected = true }
        }
        let epoch = step / plan.stepsPerEpoch
        record(push, rank: member.rank, epoch: epoch, wait: 0, rejected: rejected)
        epochs[epoch]![rank: member.rank].stalenessSum += staleness
        epochs[epoch]![rank: member.rank].maxStaleness = max(epochs[epoch]![rank: member.rank].maxStaleness, staleness)
        slots[slot]!.sentAtUpdate = updates
        slots[slot]!.samples += push.sampleCount
        slotSteps[slot] = step + 1
        lastProgress = .now
        if step + 1 < asyncTotalSteps {
            send(.weights(weights.payload), to: member.identity, step: step + 1)
        } else {
            send(.stop, to: member.identity, step: step + 1)
        }
        epochs[epoch]!.updateSeconds += (ContinuousClock.now - started).seconds
        if push.sampleCount > 0 && !rejected { epochs[epoch]!.updates += 1 }
        var epochEnded = false
        while let progress = epochs[nextEpochToReport], progress.pushes == worldSize * plan.stepsPerEpoch {
            reportEpoch(nextEpochToReport)
            nextEpochToReport += 1
            epochEnded = true
        }
        let pushes = slotSteps.reduce(0, +)
        if (checkpointEvery > 0 && pushes % checkpointEvery == 0) || epochEnded { saveState() }
    }
}
