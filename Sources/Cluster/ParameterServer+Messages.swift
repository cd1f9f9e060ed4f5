import Foundation
import Transport

/// Receiving: each message validated, then answered or handed to membership or the policy.
extension ParameterServer {
    /// Validates and acts on one received message; throws only when a worker taking part reports a failure.
    func handle(_ frames: [any IncomingFrame]) throws {
        let identity: [UInt8], message: WireMessage
        do {
            (identity, message) = try WireMessage.decodeRouted(
                frames: frames, expectedFingerprint: fingerprint, parameterCount: weights.values.count)
        } catch {
            peerLog("parameter server: dropped a message: \(error)")
            if case .versionMismatch(let received, _) = error, let peer = frames.first, (1...255).contains(peer.count) {
                // In the peer's version: a peer reads only headers of its own version.
                let refusal = WireMessage(sender: MessageHeader.serverSender, step: 0, fingerprint: 0,
                                          body: .error(reason: error.description))
                transport.send([Frame(peer.bytes)] + refusal.encoded(version: received))
            }
            return
        }
        let slot = slots.firstIndex { $0?.identity == identity }
        let joiner = joiners.firstIndex { $0.identity == identity }
        let now = ContinuousClock.now
        if let slot { slots[slot]!.lastHeard = now }
        if let joiner { joiners[joiner].lastHeard = now }
        trace?("parameter server: ← \(name(of: identity)): \(message.type) step \(message.step), "
               + "\(frames.dropFirst().reduce(0) { $0 + $1.count }) bytes")
        switch message.body {
        case .hello:
            send(.setup(Setup(configuration: configuration, dataset: dataset)), to: identity)
        case .join(let description):
            join(identity, description: description, slot: slot, isJoiner: joiner != nil)
        case .pushGradient(let push):
            if let slot {
                accept(push, from: slot, message: message)
            } else if joiner == nil && !takeBack(identity) {
                peerLog("parameter server: dropped a push-gradient from a peer that has not joined")
            }
        case .heartbeat:
            if slot == nil && joiner == nil { _ = takeBack(identity) }
        case .error(let reason):
            peerLog("parameter server: \(slot.flatMap { slots[$0] }.map { "rank \($0.rank)" } ?? "an unjoined peer") reports: \(reason)")
            if let slot, let rank = slots[slot]?.rank { throw ClusterError.peerFailed(rank: rank, reason: reason) }
        default:
            peerLog("parameter server: dropped an unexpected \(message.type) message")
        }
    }

    /// Checks a push against its worker's rank, then hands it to the policy and carries out its answer.
    private func accept(_ push: GradientPush, from slot: Int, message: WireMessage) {
        let rank = slots[slot]!.rank
        guard Int(message.sender) == rank else {
            peerLog("parameter server: dropped a push-gradient from rank \(rank) claiming sender \(message.sender)")
            return
        }
        switch policy.receive(push, step: message.step, slot: slot, in: roster, at: .now) {
        case .dropped(let reason):
            peerLog("parameter server: dropped a push-gradient of rank \(rank) \(reason)")
        case .accepted(let directives):
            slots[slot]!.samples += push.sampleCount
            perform(directives)
        }
    }
}
