import Datasets
import Foundation

/// Sync mode: one averaged step over every worker's slice of the global batch.
extension ParameterServer {
    /// Holds a push for the current step once it matches the step and the worker's slice; applies the
    /// step when every worker's push is in.
    func acceptSync(_ push: GradientPush, from slot: Int, message: WireMessage) {
        let rank = slots[slot]!.rank
        guard message.step == UInt64(step), !isFinished else {
            peerLog("parameter server: dropped a push-gradient of rank \(rank) for step \(message.step) (expected step \(step))")
            return
        }
        let expected = cursor.positions(slot: slot, worldSize: started ? slots.count : worldSize).count
        guard push.sampleCount == expected else {
            peerLog("parameter server: dropped a push-gradient of rank \(rank) with \(push.sampleCount) samples, expected \(expected)")
            return
        }
        guard pending[slot] == nil else {
            peerLog("parameter server: dropped a second push-gradient of rank \(rank) for step \(step)")
            return
        }
        pending[slot] = (push, .now)
        slots[slot]!.samples += push.sampleCount
        guard started, pending.allSatisfy({ $0 != nil }) else { return }
        applySync()
    }

    /// Averages the step's gradients weighted by sample count, applies one optimiser step and sends
    /// every worker the new weights (or a welcome when workers joined, or stop after the last step).
    private func applySync() {
        let started = ContinuousClock.now
        let pushes = pending.map { $0!.push }
        // A push whose loss or gradient holds NaN or ±∞ is left out of the step, as if it had no samples.
        var usable = pushes.map { $0.sampleCount > 0 && $0.meanLoss.isFinite }
        var total = zip(pushes, usable).reduce(0) { $0 + ($1.1 ? $1.0.sampleCount : 0) }
        // mean = Σ (nᵣ / n) · gᵣ, read straight from the received frames; the same pass checks finiteness,
        // and a second pass without the rejected pushes runs only when one was found.
        for _ in 0..<2 where total > 0 {
            let finite = gradient.withUnsafeMutableBufferPointer { mean in
                var first = true
                return pushes.indices.map { slot -> Bool in
                    guard usable[slot] else { return true }
                    defer { first = false }
                    return pushes[slot].gradient.scaled(by: Float(pushes[slot].sampleCount) / Float(total), into: mean,
                                                        accumulating: !first)
                }
            }
            if finite.allSatisfy({ $0 }) { break }
            for slot in pushes.indices where !finite[slot] { usable[slot] = false }
            total = zip(pushes, usable).reduce(0) { $0 + ($1.1 ? $1.0.sampleCount : 0) }
        }
        if total > 0 { updateWeights() }
        let epoch = cursor.epoch
        for slot in slots.indices {
            let rejected = pushes[slot].sampleCount > 0 && !usable[slot]
            record(pushes[slot], rank: slots[slot]!.rank, epoch: epoch, wait: (started - pending[slot]!.arrival).seconds,
                   rejected: rejected)
        }
        pending = .init(repeating: nil, count: slots.count)
        cursor.advance(worldSize: slots.count)
        completedSteps += 1
        step += 1
        lastProgress = .now
        if isFinished {
            broadcast(.stop)
        } else if !joiners.isEmpty {
            regroup(abandoning: false)
        } else {
            // Tagged with the step the workers compute next.
            broadcast(.weights(weights.payload))
        }
        epochs[epoch, default: EpochProgress()].updateSeconds += (ContinuousClock.now - started).seconds
        if total > 0 { epochs[epoch]!.updates += 1 }
        let epochEnded = cursor.epoch != epoch
        if epochEnded { reportEpoch(epoch) }
        if (checkpointEvery > 0 && completedSteps % checkpointEvery == 0) || epochEnded { saveState() }
    }

    /// The state to resume from after the steps done so far.
    public var state: ServerState {
        let buffers = Dictionary(uniqueKeysWithValues: optimizer.stateBuffers.map { ($0.name, $0.values) })
        switch configuration.mode {
        case .sync:
            let progress = epochs[cursor.epoch]
            return ServerState(
                configuration: configuration, dataset: dataset, fingerprint: fingerprint, worldSize: max(currentWorldSize, 1),
                step: step, completedSteps: completedSteps, epoch: cursor.epoch, offset: cursor.offset,
                updates: updates, optimizerStepCount: optimizer.stepCount, epochPushes: progress?.pushes ?? 0,
                epochLossSum: progress?.lossSum ?? 0, epochSamples: progress?.samples ?? 0, epochUpdates: progress?.updates ?? 0,
                weights: Array(weights.values), optimizerBuffers: buffers)
        case .async:
            // Each rank resumes at its own step; the epochs not yet reported keep what was applied of them.
            let lowest = slotSteps.min() ?? 0
            let position = EpochCursor(plan: plan, step: lowest)
            let open = epochs.keys.sorted().map { epoch in
                EpochTally(epoch: epoch, pushes: epochs[epoch]!.pushes, lossSum: epochs[epoch]!.lossSum,
                           samples: epochs[epoch]!.samples, updates: epochs[epoch]!.updates)
            }
            return ServerState(
                configuration: configuration, dataset: dataset, fingerprint: fingerprint, worldSize: worldSize,
                step: lowest, completedSteps: lowest, epoch: position.epoch, offset: position.offset, updates: updates,
                optimizerStepCount: optimizer.stepCount, epochPushes: 0, epochLossSum: 0, epochSamples: 0, epochUpdates: 0,
                slotSteps: slotSteps, openEpochs: open, weights: Array(weights.values), optimizerBuffers: buffers)
        }
    }

    /// Writes the state file, if there is one; a failure is logged and counted, and stops the run
    /// after `stateWrites.limit` in a row.
    func saveState() {
        guard let stateFile else { return }
        do {
            try state.write(to: stateFile)
            stateWrites.succeeded()
        } catch {
            log("parameter server: could not save the state (\(stateWrites.limit) failures in a row stop the run): \(error)")
            if let reason = stateWrites.failed(error, path: stateFile) { requestStop(reason: reason) }
        }
    }
}
