import Datasets
import Foundation
import Logging

/// Joining, heartbeats and dropping silent workers.
extension ParameterServer {
    /// Acts on a join: refuses a worker whose data differs, welcomes one already taking part back at
    /// its position, and gives a new one a rank: at once before the first step and in async mode (a
    /// free slot), from the next step in sync mode.
    func join(_ identity: [UInt8], description: DatasetDescription, slot: Int?, isJoiner: Bool) {
        guard description == dataset else {
            let reason = "data set differs: the server has \(Self.describe(dataset)), the worker has \(Self.describe(description))"
            peerLog("parameter server: refused a worker: \(reason)")
            send(.error(reason: reason), to: identity)
            return
        }
        if let slot {
            // A worker that gave up waiting (and tries to reconnect) joins again on its old connection:
            // welcome it back where it is. A push it already made for this step counts; a repeat is dropped.
            peerLog("parameter server: rank \(slots[slot]!.rank) joined again; welcomed back", level: .notice,
                    metadata: ["rank": "\(slots[slot]!.rank)"])
            slots[slot]!.welcomed = false
            perform(policy.admitted(slot: slot, in: roster))
            return
        }
        if isJoiner { return }  // already waiting for the next step
        if started && isSharded {
            refuse(identity, reason: "a sharded run takes no new workers after its first step (the shards would not agree on its first one)")
            return
        }
        if let queued = waiting.firstIndex(where: { $0.identity == identity }) {
            waiting[queued].lastHeard = .now  // asked again while waiting for a place
            return
        }
        guard hasPlace else {
            wait(identity)
            return
        }
        admitNew(identity)
    }

    /// Whether a new worker can be given a place now: a free slot before the first step or under
    /// fixed ranks, else (elastic) room among the workers of the next step.
    private var hasPlace: Bool {
        if !started || policy.membership == .fixedRanks { return slots.contains { $0 == nil } }
        return slots.count + joiners.count < maximumWorkers
    }

    /// Gives a checked worker a rank (its old one if it was dropped as silent) and a place.
    private func admitNew(_ identity: [UInt8]) {
        let rank = departed.removeValue(forKey: identity) ?? nextRank
        if rank == nextRank {
            guard nextRank < ProtocolLimits.standard.maxWorldSize else {
                refuse(identity, reason: "the server has given out all \(nextRank) ranks it can")
                return
            }
            nextRank += 1
        }
        admit(Member(rank: rank, identity: identity, lastHeard: .now, lastSent: .now, sentAtUpdate: updates))
    }

    /// Keeps a checked worker that found every place taken until one frees (a worker restarted at once
    /// after a crash finds its old self still holding a place until it is dropped as silent); its own
    /// `--timeout` bounds the wait. Refuses it when `maximumWaiting` already wait.
    private func wait(_ identity: [UInt8]) {
        let full = policy.membership == .fixedRanks
            ? "all \(worldSize) ranks are taken (\(configuration.mode.rawValue) mode has a fixed number of workers)"
            : "the server takes at most \(maximumWorkers) workers"
        guard waiting.count < maximumWaiting else {
            refuse(identity, reason: maximumWaiting == 0 ? full : "\(full), and \(waiting.count) more wait for a place")
            return
        }
        waiting.append(WaitingWorker(identity: identity, lastHeard: .now, lastSent: .now))
        peerLog("parameter server: a worker waits for a place: \(full); it takes the next place a dropped worker frees")
    }

    /// Gives the waiting workers, first come first served, the places that are free.
    private func admitWaiting() {
        while hasPlace && !waiting.isEmpty {
            let next = waiting.removeFirst()
            logger.info("parameter server: a worker that waited for a place takes one")
            admitNew(next.identity)
        }
    }

    /// Takes back a worker dropped as silent that speaks again on the same connection (its data was
    /// checked when it first joined); false if `identity` is not such a worker.
    func takeBack(_ identity: [UInt8]) -> Bool {
        guard let rank = departed.removeValue(forKey: identity) else { return false }
        if isSharded {
            refuse(identity, reason: "rank \(rank) was dropped as silent, and a sharded run takes no worker back (the shards would not agree on its step)")
            return true
        }
        peerLog("parameter server: rank \(rank), dropped as silent, spoke again; taking it back", level: .notice,
                metadata: ["rank": "\(rank)"])
        admit(Member(rank: rank, identity: identity, lastHeard: .now, lastSent: .now, sentAtUpdate: updates))
        return true
    }

    /// Gives a checked worker a place: a free slot before the first step or under fixed ranks, else
    /// (elastic) a place among the workers of the next step; refuses it when there is none (a worker
    /// dropped as silent that speaks again when its place is taken).
    private func admit(_ member: Member) {
        if !started || policy.membership == .fixedRanks {
            guard let free = slots.firstIndex(where: { $0 == nil }) else {
                refuse(member.identity, reason: policy.membership == .fixedRanks
                       ? "all \(worldSize) ranks are taken (\(configuration.mode.rawValue) mode has a fixed number of workers)"
                       : "all \(worldSize) places are taken")
                return
            }
            slots[free] = member
            logger.info("parameter server: rank \(member.rank) joined (\(currentWorldSize) of \(worldSize) workers)",
                        metadata: ["rank": "\(member.rank)"])
            report(.joined, rank: member.rank)
            if !started && currentWorldSize == worldSize {
                started = true
                lastProgress = .now
                epochClock = .now
            }
            perform(policy.admitted(slot: free, in: roster))
            return
        }
        guard slots.count + joiners.count < maximumWorkers else {
            refuse(member.identity, reason: "the server takes at most \(maximumWorkers) workers")
            return
        }
        joiners.append(member)
        if slots.isEmpty {
            // No step is in progress: start one with the newcomer.
            regroup(abandoning: false)
        } else {
            logger.info("parameter server: rank \(member.rank) joined; it takes part from the next step", metadata: ["rank": "\(member.rank)"])
        }
    }

    private func refuse(_ identity: [UInt8], reason: String) {
        peerLog("parameter server: refused a worker: \(reason)")
        send(.error(reason: reason), to: identity)
    }

    /// Sends the worker in `slot` a welcome: its rank and slice, the position of its next step and the weights.
    func welcome(slot: Int) {
        let member = slots[slot]!
        let (memberStep, position, world) = policy.position(slot: slot, in: roster)
        send(.welcome(Welcome(rank: member.rank, slot: slot, worldSize: world, epoch: position.epoch, offset: position.offset,
                              configuration: configuration,
                              weights: replicas?.welcomeWeights(slot: slot, weights: weights, pool: snapshots) ?? weights.payload)),
             to: member.identity, step: memberStep)
    }

    /// Elastic membership: lets the waiting joiners take part and welcomes every worker with its new slice, from
    /// the next step number when `abandoning` the step in progress (its pushes are discarded and its
    /// samples computed again by the workers now taking part), else from the current one.
    func regroup(abandoning: Bool) {
        let world = slots.count
        let newcomers = joiners
        joiners = []
        slots += newcomers.map { Optional($0) }
        policy.regrouped(roster, abandoning: abandoning)
        lastProgress = .now
        for newcomer in newcomers { report(.joined, rank: newcomer.rank) }
        if slots.isEmpty {
            logger.warning("parameter server: no worker left at step \(policy.roundStep); waiting up to \(stepTimeout.seconds) s for one to join",
                           metadata: ["step": "\(policy.roundStep)"])
            return
        }
        let (step, cursor, _) = policy.position(slot: 0, in: roster)
        let ranks = slots.compactMap { $0?.rank }.map(String.init).joined(separator: ", ")
        let line = "parameter server: step \(step): \(slots.count) worker\(slots.count == 1 ? "" : "s") "
            + "(rank\(slots.count == 1 ? "" : "s") \(ranks)) from epoch \(cursor.epoch + 1), "
            + "sample \(cursor.offset)\(world == slots.count ? "" : ", was \(world)")"
        logger.info("\(line)", metadata: ["step": "\(step)"])
        // Every worker is welcomed with the current weights: the shared replica becomes them.
        replicas?.reset(slot: 0, to: weights.values)
        for slot in slots.indices { welcome(slot: slot) }
    }

    /// After the server's own thread was held up (handling messages, or not scheduled at all) for
    /// `heldUp`, longer than half the heartbeat timeout, leaves that time out of every worker's
    /// silence and of the step's time (`--step-timeout`), and says whether it did: a pause of this
    /// machine or process may have held the workers' heartbeats too (co-located workers, a
    /// suspended VM), so silence within it proves nothing. A dead worker is dropped that much
    /// later, never a live one sooner. Shorter hold-ups (a busy machine's scheduling
    /// delays) are not left out: a live worker's heartbeats still arrive, and crediting them would put
    /// off dropping a dead one for as long as the machine stays busy.
    func noticeHoldUp(heldUp: Duration, at now: ContinuousClock.Instant) -> Bool {
        guard heldUp > heartbeatTimeout / 2 else { return false }
        let credit = { (heard: ContinuousClock.Instant) in min(now, heard + heldUp) }
        lastProgress = credit(lastProgress)
        for slot in slots.indices where slots[slot] != nil { slots[slot]!.lastHeard = credit(slots[slot]!.lastHeard) }
        for index in joiners.indices { joiners[index].lastHeard = credit(joiners[index].lastHeard) }
        for index in waiting.indices { waiting[index].lastHeard = credit(waiting[index].lastHeard) }
        metrics.recordHoldUp()
        logger.notice("\(String(format: "parameter server: its own thread was held up for %.1f s (busy machine or paused process); the workers' silence and the step's time are counted without it", heldUp.seconds))")
        return true
    }

    /// Drops the workers not heard from within the heartbeat timeout before `looked`, the start of a
    /// wait that found nothing more to receive: every message that reached the transport before it
    /// has been handled, so a heartbeat still waiting in the socket (after the machine starved the
    /// server of CPU) counts, and only heartbeats that did not arrive make a worker silent.
    func dropSilent(lookedAt looked: ContinuousClock.Instant) {
        let isSilent = { (member: Member) in looked - member.lastHeard > self.heartbeatTimeout }
        let silent = slots.indices.filter { owesSteps($0) && slots[$0].map(isSilent) == true }
        for slot in silent.reversed() { drop(slot: slot, silentFor: (looked - slots[slot]!.lastHeard).seconds) }
        for joiner in joiners where isSilent(joiner) {
            peerLog("parameter server: rank \(joiner.rank), waiting to take part, went silent; forgotten", metadata: ["rank": "\(joiner.rank)"])
        }
        joiners.removeAll(where: isSilent)
        waiting.removeAll { looked - $0.lastHeard > heartbeatTimeout }
        let regrouping = !silent.isEmpty && policy.membership == .elastic && started
        // Newcomers take the freed places before the regroup, so they take part in the step computed
        // again (with no worker left, the next round starts a step with them).
        if !slots.isEmpty || !regrouping { admitWaiting() }
        if regrouping { regroup(abandoning: true) }
    }

    /// Sends a heartbeat to every worker the server has not written to for an interval and names a
    /// straggler; silence is judged apart (`dropSilent(lookedAt:)`), once the socket is found empty.
    func keepAlive(now: ContinuousClock.Instant) {
        for slot in slots.indices where owesSteps(slot) {
            if let member = slots[slot], now - member.lastSent >= heartbeatInterval {
                send(.heartbeat, to: member.identity, step: policy.nextStep(slot: slot))
            }
        }
        for joiner in joiners where now - joiner.lastSent >= heartbeatInterval {
            send(.heartbeat, to: joiner.identity)
        }
        for index in waiting.indices where now - waiting[index].lastSent >= heartbeatInterval {
            waiting[index].lastSent = now
            send(.heartbeat, to: waiting[index].identity)
        }
        nameStraggler(now: now)
    }

    /// Whether the worker in `slot` has steps left: one that has taken its last step has been sent
    /// stop and owes nothing more, so it is neither sent heartbeats nor dropped.
    private func owesSteps(_ slot: Int) -> Bool { policy.owesSteps(slot: slot) }

    /// Removes a silent worker, which is taken back if it speaks again: see `vacate(slot:)`.
    private func drop(slot: Int, silentFor seconds: Double) {
        let member = slots[slot]!
        departed[member.identity] = member.rank
        if departed.count > 4096, let any = departed.keys.first(where: { $0 != member.identity }) { departed[any] = nil }
        let (rest, directives) = vacate(slot: slot)
        let line = String(format: "parameter server: rank %d silent for %.1f s; dropped (%d worker%@ left); %@",
                          member.rank, seconds, currentWorldSize, currentWorldSize == 1 ? "" : "s", rest)
        logger.warning("\(line)", metadata: ["rank": "\(member.rank)"])
        report(.dropped, rank: member.rank, silentSeconds: seconds)
        perform(directives)
    }

    /// Removes a worker the server has told to go (it is not taken back), and goes on without it: the
    /// others compute the step in progress again (elastic), or its place waits for a worker to take it.
    func remove(slot: Int, because reason: String) {
        let rank = slots[slot]!.rank
        let closing = policy.membership == .elastic && started
        let (rest, directives) = vacate(slot: slot)
        logger.warning("parameter server: rank \(rank) \(reason); removed (\(currentWorldSize) worker\(currentWorldSize == 1 ? "" : "s") left); \(rest)",
                       metadata: ["rank": "\(rank)"])
        report(.removed, rank: rank)
        perform(directives)
        if !slots.isEmpty || !closing { admitWaiting() }
        if closing { regroup(abandoning: true) }
    }

    /// Empties `slot`: it is freed (before the first step, and under fixed ranks for a worker to take
    /// over) or closed up (elastic membership, then `regroup(abandoning:)`); returns what follows, in
    /// words, and the policy's directives to carry out.
    private func vacate(slot: Int) -> (rest: String, directives: [UpdateDirective]) {
        let closing = policy.membership == .elastic && started
        var directives: [UpdateDirective] = []
        if closing {
            slots.remove(at: slot)
            policy.closed(slot: slot)
        } else {
            slots[slot] = nil
            replicas?.forget(slot: slot)
            directives = policy.vacated(slot: slot, in: roster)
        }
        let rest = closing ? "the others compute step \(policy.roundStep)'s samples again" : "its place waits for a worker to take it"
        return (rest, directives)
    }

    /// Tells `onMembershipChange` of a worker joining, being dropped or removed.
    func report(_ kind: MembershipChange.Kind, rank: Int, silentSeconds: Double? = nil) {
        guard let onMembershipChange else { return }
        let (changeStep, epoch) = policy.changePoint
        let change = MembershipChange(kind: kind, rank: rank, step: changeStep, epoch: epoch + 1, worldSize: currentWorldSize,
                                      silentSeconds: silentSeconds)
        reporting.submit { onMembershipChange(change) }
    }
}
