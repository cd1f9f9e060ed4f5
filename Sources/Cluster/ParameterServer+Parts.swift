/// Pushes in parts (overlap runs): each gradient-part joins its worker's assembly for the step, and
/// the push-gradient that follows completes it.
extension ParameterServer {
    /// Adds a gradient-part from the worker in `slot` to its assembly; a part that does not fit is
    /// dropped with the assembly, and the push that follows is refused.
    func take(_ part: GradientPart, from slot: Int, message: WireMessage) {
        let rank = slots[slot]!.rank
        guard Int(message.sender) == rank else {
            drop("parameter server: dropped a gradient-part from rank \(rank) claiming sender \(message.sender)", rank: rank)
            return
        }
        guard let partBuffers else {
            drop("parameter server: dropped a gradient-part of rank \(rank): this run's pushes are sent whole (no --overlap)", rank: rank)
            return
        }
        let result: Result<PartAssembly, PartAssembly.Problem>
        if var assembly = slots[slot]!.assembly, assembly.step == message.step {
            if let problem = assembly.add(part) { result = .failure(problem) } else { result = .success(assembly) }
        } else {
            result = PartAssembly.begin(with: part, step: message.step, pool: partBuffers, count: weights.values.count)
        }
        switch result {
        case .success(let assembly):
            slots[slot]!.assembly = assembly
        case .failure(let problem):
            slots[slot]!.assembly = nil
            drop("parameter server: dropped a gradient-part of rank \(rank) for step \(message.step): \(problem.reason)", rank: rank)
        }
    }

    /// `push` with its whole gradient: its first values and the parts of the same step before it; a
    /// failure when the parts do not add up.
    func assembled(_ push: GradientPush, slot: Int, step: UInt64) -> Result<GradientPush, UnreadablePush> {
        guard push.restSentInParts else { return .success(push) }
        let assembly = slots[slot]!.assembly
        slots[slot]!.assembly = nil
        guard partBuffers != nil else {
            return .failure(UnreadablePush(reason: "is sent in parts, but this run's pushes are sent whole (no --overlap)"))
        }
        guard let assembly, assembly.step == step else {
            return .failure(UnreadablePush(reason: "holds only its first \(push.gradient.count) values, and no gradient-part of step \(step) came before it"))
        }
        switch assembly.completed(with: push.gradient) {
        case .success(let gradient):
            var push = push
            (push.gradient, push.restSentInParts) = (gradient, false)
            return .success(push)
        case .failure(let problem):
            return .failure(UnreadablePush(reason: problem.reason))
        }
    }
}
