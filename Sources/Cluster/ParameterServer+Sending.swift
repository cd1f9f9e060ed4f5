import Logging

/// Sending: to one peer, to every worker, and the run's end to the workers it does not hold.
extension ParameterServer {
    /// Sends `body` to every worker taking part or waiting to (one weights snapshot serves them all, without copies).
    func broadcast(_ body: MessageBody, step: Int? = nil) {
        for member in slots.compactMap({ $0 }) + joiners { send(body, to: member.identity, step: step) }
    }

    /// Sends `body` (stop, or the error that ends the run) to every worker the run ends for: the ones
    /// taking part, and the others (see `tellTheOthers(_:)`).
    func broadcastEnd(_ body: MessageBody) {
        broadcast(body)
        tellTheOthers(body)
    }

    /// Sends `body` to the workers waiting for a place and the ones dropped as silent: a paused worker
    /// reads it when it goes on, and exits as the run did instead of looking for a server that is gone.
    func tellTheOthers(_ body: MessageBody) {
        for peer in waiting.map(\.identity) + departed.keys { send(body, to: peer) }
    }

    /// Sends `body` to the peer `identity`, tagged with `step` (by default the policy's round).
    func send(_ body: MessageBody, to identity: [UInt8], step: Int? = nil) {
        let message = WireMessage(sender: MessageHeader.serverSender, step: UInt64(step ?? policy.roundStep),
                                  fingerprint: fingerprint, body: body)
        logger.trace("parameter server: → \(name(of: identity)): \(message.type) step \(message.step), \(message.payloadByteCount) bytes",
                     metadata: ["peer": "\(name(of: identity))", "step": "\(message.step)"])
        let now = ContinuousClock.now
        let bytes = MessageHeader.size + message.payloadByteCount
        if let slot = slots.firstIndex(where: { $0?.identity == identity }) {
            slots[slot]!.lastSent = now
            count(sent: bytes, rank: slots[slot]!.rank)
            slots[slot]!.bytes += bytes
            switch body {
            case .welcome:
                slots[slot]!.welcomed = true
                slots[slot]!.sentAtUpdate = updates
            case .weights, .weightsDelta:
                slots[slot]!.sentAtUpdate = updates
            default:
                break
            }
        }
        metrics.sent(bytes: bytes)
        transport.send(message.encoded(to: identity))
    }

    /// How logs name a peer: by rank once it has one.
    func name(of identity: [UInt8]) -> String {
        if let member = slots.first(where: { $0?.identity == identity }) ?? joiners.first(where: { $0.identity == identity }) {
            return "rank \(member.rank)"
        }
        return "a new peer"
    }
}
