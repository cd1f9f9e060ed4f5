import Foundation
import Logging
import Transport

/// Receiving: each message validated, then answered or handed to membership or the policy.
extension ParameterServer {
    /// Validates and acts on one received message; throws only when a worker taking part reports a failure.
    func handle(_ frames: [any IncomingFrame]) throws {
        let identity: [UInt8], message: WireMessage
        metrics.received(bytes: frames.dropFirst().reduce(0) { $0 + $1.count })
        do {
            (identity, message) = try WireMessage.decodeRouted(
                frames: frames, expectedFingerprint: fingerprint, parameterCount: weights.values.count)
        } catch {
            drop("parameter server: dropped a message: \(error)")
            if case .versionMismatch(let received, _) = error, let peer = frames.first, (1...255).contains(peer.count) {
                // In the peer's version: a peer reads only headers of its own version.
                let refusal = WireMessage(sender: MessageHeader.serverSender, step: 0, fingerprint: 0,
                                          body: .error(reason: error.description))
                metrics.sent(bytes: MessageHeader.size + refusal.payloadByteCount)
                transport.send([Frame(peer.bytes)] + refusal.encoded(version: received))
            }
            return
        }
        let slot = slots.firstIndex { $0?.identity == identity }
        let joiner = joiners.firstIndex { $0.identity == identity }
        let now = ContinuousClock.now
        if let slot {
            slots[slot]!.lastHeard = now
            let bytes = frames.dropFirst().reduce(0) { $0 + $1.count }
            count(received: bytes, rank: slots[slot]!.rank)
            slots[slot]!.bytes += bytes
        }
        if let joiner { joiners[joiner].lastHeard = now }
        if slot == nil, joiner == nil, let queued = waiting.firstIndex(where: { $0.identity == identity }) { waiting[queued].lastHeard = now }
        logger.trace("parameter server: ← \(name(of: identity)): \(message.type) step \(message.step), \(frames.dropFirst().reduce(0) { $0 + $1.count }) bytes",
                     metadata: ["peer": "\(name(of: identity))", "step": "\(message.step)"])
        switch message.body {
        case .hello where shardIndex > 0, .join where shardIndex > 0:
            refuseOnFollower(identity, type: message.type)
        case .hello:
            send(.setup(Setup(configuration: configuration, dataset: dataset)), to: identity)
        case .join(let description):
            join(identity, description: description, slot: slot, isJoiner: joiner != nil)
        case .shardJoin(let request):
            shardJoin(identity, request, step: Int(message.step), slot: slot)
        case .shardWeights(let range):
            receive(range, from: identity)
        case .pushGradient(let push):
            if let slot {
                accept(push, from: slot, message: message)
            } else if joiner == nil && !takeBack(identity) {
                drop("parameter server: dropped a push-gradient from a peer that has not joined")
            }
        case .gradientPart(let part):
            // A worker taken back (or refused) on its push is told so once, by the push that follows its parts.
            if let slot { take(part, from: slot, message: message) } else { drop("parameter server: dropped a gradient-part from a peer that is not taking part") }
        case .heartbeat:
            if slot == nil && joiner == nil && !waiting.contains(where: { $0.identity == identity }) { _ = takeBack(identity) }
        case .error(let reason):
            let peer = slot.flatMap { slots[$0] }.map { "rank \($0.rank)" } ?? "an unjoined peer"
            peerLog("parameter server: \(peer) reports: \(reason)", level: .error, metadata: ["peer": "\(peer)"])
            if let slot, let rank = slots[slot]?.rank { throw ClusterError.peerFailed(rank: rank, reason: reason) }
        default:
            drop("parameter server: dropped an unexpected \(message.type) message")
        }
    }

    /// Checks a push against its worker's rank, then hands it to the policy and carries out its answer.
    private func accept(_ encoded: GradientPush, from slot: Int, message: WireMessage) {
        let rank = slots[slot]!.rank
        guard Int(message.sender) == rank else {
            drop("parameter server: dropped a push-gradient from rank \(rank) claiming sender \(message.sender)", rank: rank)
            return
        }
        let push: GradientPush
        switch assembled(encoded, slot: slot, step: message.step).flatMap({ decoded($0) }) {
        case .success(let decoded):
            push = decoded
        case .failure(let problem):
            refuse(push: message.step, slot: slot, because: problem.reason)
            return
        }
        switch policy.receive(push, step: message.step, slot: slot, in: roster, at: .now) {
        case .dropped(let reason):
            drop("parameter server: dropped a push-gradient of rank \(rank) \(reason)", rank: rank)
        case .refused(let reason):
            refuse(push: message.step, slot: slot, because: reason)
        case .accepted(let directives):
            slots[slot]!.samples += push.sampleCount
            perform(directives)
        }
    }

    /// Refuses a push of `step` from the worker in `slot`: tells the worker `reason` and lets it go.
    private func refuse(push step: UInt64, slot: Int, because reason: String) {
        let rank = slots[slot]!.rank
        let sentence = "a push-gradient for step \(step) \(reason)"
        peerLog("parameter server: refused \(sentence) from rank \(rank); told the worker and let it go", metadata: ["rank": "\(rank)"])
        send(.error(reason: sentence), to: slots[slot]!.identity)
        remove(slot: slot, because: "sent \(sentence)")
    }

    /// Why a push's vector cannot be read: it is not written as the run's push codec writes it.
    struct UnreadablePush: Error {
        var reason: String
    }

    /// `push` with its vector as float32: decoded (fully checked) into a pooled buffer when written
    /// with the run's push codec; a failure when it is written otherwise or its frame lies.
    func decoded(_ push: GradientPush) -> Result<GradientPush, UnreadablePush> {
        switch (pushCodec, push.encodedGradient) {
        case (nil, nil):
            return .success(push)
        case (nil, .some):
            return .failure(UnreadablePush(reason: "is compressed, but this run's pushes are float32 (compress none)"))
        case (let codec?, nil):
            // Without samples a push has no vector to encode.
            guard push.gradient.count == 0 else {
                return .failure(UnreadablePush(reason: "is float32, but this run's pushes are written with \(codec.name)"))
            }
            return .success(push)
        case (let codec?, let vector?):
            let buffer = decodedPushes!.acquire()
            if let problem = vector.decode(with: codec, into: buffer.buffer) {
                return .failure(UnreadablePush(reason: "has a frame that does not decode: \(problem)"))
            }
            var push = push
            (push.gradient, push.encodedGradient) = (buffer.payload, nil)
            return .success(push)
        }
    }

    /// Counts a dropped message and logs `line` (rate-limited) as a warning, with `rank` if known.
    func drop(_ line: String, rank: Int? = nil) {
        metrics.dropped()
        peerLog(line, metadata: rank.map { ["rank": "\($0)"] } ?? [:])
    }
}
