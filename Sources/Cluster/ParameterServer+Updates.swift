import Datasets
import Foundation
import Logging

/// Carrying out the policy's directives: updates, replies, epoch ends and state files.
extension ParameterServer {
    /// Carries out `directives` in order; the time from the first to an epoch's report counts as
    /// the server's own update time in that epoch.
    func perform(_ directives: [UpdateDirective]) {
        let start = ContinuousClock.now
        var timed: Int?
        func account() {
            if let epoch = timed { epochs[epoch, default: EpochProgress()].updateSeconds += (ContinuousClock.now - start).seconds }
            timed = nil
        }
        // After an epoch the next weights every worker gets are whole: each replica equals the server's weights.
        if directives.contains(where: { if case .reportEpoch = $0 { true } else { false } }) { replicas?.denseDue() }
        for directive in directives {
            switch directive {
            case .apply(let pushes, let weighting):
                timed = pushes.first?.epoch
                apply(pushes, weighting: weighting, start: start)
            case .sendWeights(let slot, let step, _):
                give(slot: slot, step: step)
            case .stop(let slot):
                send(.stop, to: slots[slot]!.identity, step: policy.nextStep(slot: slot))
            case .nextRound(let step):
                lastProgress = .now
                if isFinished {
                    broadcast(.stop, step: step)
                } else if !joiners.isEmpty {
                    regroup(abandoning: false)
                } else {
                    // Tagged with the step the workers compute next; one message (one delta) for all.
                    broadcast(replicas?.message(slot: 0, weights: weights.values, payload: weights.payload) ?? .weights(weights.payload),
                              step: step)
                }
            case .reportEpoch(let epoch):
                account()
                reportEpoch(epoch)
            case .saveState:
                saveState()
            case .recordWait(let slot, let epoch, let seconds):
                if let rank = slots[slot]?.rank {
                    epochs[epoch, default: EpochProgress()][rank: rank].waitSeconds += seconds
                    metrics.recordWait(rank: rank, seconds: seconds)
                }
            }
        }
        account()
    }

    /// Sends the worker in `slot` the current weights for `step`: a welcome when it has not had one on
    /// this connection, else a weights message.
    private func give(slot: Int, step: Int) {
        guard let member = slots[slot] else { return }
        if member.welcomed {
            send(replicas?.soloMessage(slot: slot, weights: weights, pool: snapshots) ?? .weights(weights.payload),
                 to: member.identity, step: step)
        } else {
            welcome(slot: slot)
        }
    }

    /// One optimiser step with the weighted sum of `pushes`' gradients, read straight from the received
    /// frames; a push whose loss or gradient holds NaN or ±∞, or whose gradient's norm is beyond the
    /// gradient guard's limit, is left out (as if it had no samples) and counted as rejected. Every
    /// push is recorded in its epoch's accounting.
    private func apply(_ pushes: [HeldPush], weighting: Weighting, start: ContinuousClock.Instant) {
        var usable = pushes.map { $0.push.sampleCount > 0 && $0.push.meanLoss.isFinite }
        let norms = gradientGuard.bound == .off ? [] : zip(pushes, usable).map { $1 ? $0.push.gradient.norm : 0 }
        // ‖weights‖ / learning rate, which bounds the gradients of the first updates.
        let scale = gradientGuard.isWarmingUp
            ? weights.values.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() / Double(configuration.serverOptimizer.learningRate)
            : nil
        let ranked = zip(pushes, norms).map { (rank: slots[$0.slot]!.rank, norm: $1) }
        let limits = norms.isEmpty ? [] : gradientGuard.limits(for: ranked, scale: scale)
        var outliers = pushes.map { _ in false }
        for index in norms.indices {
            if let limit = limits[index].limit, norms[index].isFinite, norms[index] > limit { (usable[index], outliers[index]) = (false, true) }
        }
        func total() -> Int {
            switch weighting {
            case .meanOfFinite: zip(pushes, usable).reduce(0) { $0 + ($1.1 ? $1.0.push.sampleCount : 0) }
            case .shareOf(let samples): samples
            }
        }
        var samples = total()
        // The same pass checks finiteness; a second pass without the rejected pushes runs only when one was found.
        for _ in 0..<2 where usable.contains(true) && samples > 0 {
            let finite = gradient.withUnsafeMutableBufferPointer { sum in
                var first = true
                return pushes.indices.map { index -> Bool in
                    guard usable[index] else { return true }
                    defer { first = false }
                    let push = pushes[index].push
                    return push.gradient.scaled(by: Float(push.sampleCount) / Float(samples), into: sum, accumulating: !first)
                }
            }
            if finite.allSatisfy({ $0 }) { break }
            for index in pushes.indices where !finite[index] { usable[index] = false }
            samples = total()
        }
        let applied = usable.contains(true) && samples > 0
        let before = updates
        if applied { updateWeights() }
        if !norms.isEmpty {
            gradientGuard.record(checked: ranked, applied: norms.indices.filter { usable[$0] }.map { norms[$0] },
                                 rejectedByScale: norms.indices.filter { outliers[$0] && limits[$0].byScale }.count)
        }
        for (index, held) in pushes.enumerated() {
            let member = slots[held.slot]!
            let rejection: String? = outliers[index]
                ? String(format: "its gradient's norm %.3g is beyond the limit %.3g (%@)", norms[index], limits[index].limit ?? 0,
                         limits[index].byScale ? "the factor × ‖weights‖ / lr, before other gradients are known" : gradientGuard.bound.description)
                : held.push.sampleCount > 0 && !usable[index] ? "its loss or gradient holds NaN or infinity" : nil
            record(held.push, rank: member.rank, epoch: held.epoch, wait: held.arrival.map { (start - $0).seconds } ?? 0,
                   staleness: before - member.sentAtUpdate, stepsAhead: held.stepsAhead, rejection: rejection)
        }
        if applied, let epoch = pushes.first?.epoch { epochs[epoch, default: EpochProgress()].updates += 1 }
        lastProgress = .now
    }

    /// One optimiser step with `gradient`, written into a fresh buffer that becomes the current weights.
    func updateWeights() {
        let next = snapshots.acquire()
        gradient.withUnsafeBufferPointer { optimizer.step(from: weights.values, into: next.buffer, gradients: $0) }
        weights = next
        updates += 1
    }

    /// The state to resume from after the steps done so far.
    public var state: ServerState {
        // Copies, not shares: the state is written on the reporting thread while the optimiser goes on
        // updating its buffers in place (ThreadSanitizer saw the write race a shared array's reads).
        let buffers = Dictionary(uniqueKeysWithValues: optimizer.stateBuffers.map { ($0.name, $0.values.withUnsafeBufferPointer { Array($0) }) })
        let open = epochs.keys.sorted().map { epoch in
            EpochTally(epoch: epoch, pushes: epochs[epoch]!.pushes, lossSum: epochs[epoch]!.lossSum,
                       samples: epochs[epoch]!.samples, updates: epochs[epoch]!.updates)
        }
        var state = ServerState(
            configuration: configuration, dataset: dataset, fingerprint: fingerprint,
            worldSize: policy.membership == .elastic ? max(currentWorldSize, 1) : worldSize,
            step: 0, epoch: 0, offset: 0, updates: updates, optimizerStepCount: optimizer.stepCount,
            epochPushes: 0, epochLossSum: 0, epochSamples: 0, epochUpdates: 0, openEpochs: open,
            weights: Array(weights.values), optimizerBuffers: buffers)
        policy.save(into: &state)
        if let current = epochs[state.epoch] {
            // Also in the fields a state file of protocol version 2 kept them in.
            (state.epochPushes, state.epochLossSum, state.epochSamples, state.epochUpdates)
                = (current.pushes, current.lossSum, current.samples, current.updates)
        }
        return state
    }

    /// Writes the state file, if there is one, on the reporting thread after the reports given before
    /// it (so a run that diverged keeps the state before the epoch that diverged ended); a failure is
    /// logged and counted, and stops the run after `stateWrites.limit` in a row. While a write waits
    /// to begin, a newer state takes its place: a slow disk holds at most one state in memory.
    func saveState() {
        guard let stateFile, !stopRequest.keepState else { return }
        let snapshot = state
        if let queuedState, queuedState.replace(with: snapshot) { return }
        let pending = PendingState(snapshot)
        queuedState = pending
        let (stateWrites, stopRequest, logger) = (stateWrites, stopRequest, logger)
        reporting.submit { [self] in
            guard let state = pending.take(), !stopRequest.keepState else { return }
            do {
                try state.write(to: stateFile)
                stateWrites.succeeded()
            } catch {
                logger.error("parameter server: could not save the state (\(stateWrites.limit) failures in a row stop the run): \(error)")
                if let reason = stateWrites.failed(error, path: stateFile) { requestStop(reason: reason) }
            }
        }
    }
}

/// A state waiting to be written on the reporting thread; the server may replace it with a newer
/// one until the write takes it.
final class PendingState: @unchecked Sendable {
    // Unchecked: `stored` and `taken` are guarded by `lock`.
    private let lock = NSLock()
    private var stored: ServerState?
    private var taken = false

    init(_ state: ServerState) { stored = state }

    /// Puts `state` in place of the one waiting; false once the write has taken it.
    func replace(with state: ServerState) -> Bool {
        lock.withLock {
            guard !taken else { return false }
            stored = state
            return true
        }
    }

    /// The state to write, once.
    func take() -> ServerState? {
        lock.withLock {
            taken = true
            defer { stored = nil }
            return stored
        }
    }
}
