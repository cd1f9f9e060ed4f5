import Datasets

/// SSP mode (stale synchronous parallel): each push is applied as it arrives, weighted as async
/// weights it, but a worker more than `bound` steps ahead of the slowest worker gets its next
/// weights only when the slowest catches up. With a bound of 0 every worker waits for every other
/// at each step, as in sync mode (with plain SGD the weights are then sync's, up to rounding).
///
/// Nobody is given weights before the initial world has joined (and before the first step every rank
/// counts as the slowest at its clock, joined or not); after it only the workers taking part that have
/// steps left count, so a dropped worker holds nobody back, and the worker that takes over its rank
/// goes on at its step.
final class BoundedStaleness: FixedRankPolicy {
    let mode = TrainingMode.ssp
    /// The most steps a worker may be ahead of the slowest when it is given weights.
    let bound: Int
    private(set) var clocks: RankClocks

    func moveClock(slot: Int, to step: Int) { clocks.move(slot: slot, to: step) }
    /// The workers that pushed and wait for the slowest, by slot, and since when.
    private var held: [Int: ContinuousClock.Instant] = [:]

    /// A policy for `worldSize` fixed ranks (see `RankClocks`) whose clocks stay within `bound` steps.
    init(bound: Int, configuration: TrainingConfiguration, sampleCount: Int, worldSize: Int, maxSteps: Int?,
         checkpointEvery: Int, resume state: ServerState?) throws {
        precondition(bound >= 0, "the staleness bound is a number of steps, at least 0")
        self.bound = bound
        clocks = try RankClocks(configuration: configuration, sampleCount: sampleCount, worldSize: worldSize,
                                maxSteps: maxSteps, checkpointEvery: checkpointEvery, resume: state)
    }

    /// The ranks whose clocks hold the others back: every rank with steps left before the first step,
    /// the workers taking part with steps left after it.
    private func gating(_ roster: Roster) -> [Int] {
        clocks.clocks.indices.filter { clocks.owesSteps(slot: $0) && (!roster.started || roster.occupied[$0]) }
    }

    /// The lowest clock among the ranks that hold the others back (the total when none does).
    private func slowest(_ roster: Roster) -> Int {
        gating(roster).map { clocks.clocks[$0] }.min() ?? clocks.totalSteps
    }

    func straggler(in roster: Roster) -> (slot: Int, step: Int, since: ContinuousClock.Instant)? {
        guard let since = held.values.min() else { return nil }
        let lowest = slowest(roster)
        guard let slot = gating(roster).first(where: { clocks.clocks[$0] == lowest }) else { return nil }
        return (slot, lowest, since)
    }

    func receive(_ push: GradientPush, step: UInt64, slot: Int, in roster: Roster,
                 at arrival: ContinuousClock.Instant) -> PushVerdict {
        if let verdict = clocks.check(push, step: step, slot: slot) { return verdict }
        var directives = [clocks.advance(push, slot: slot)]
        held[slot] = arrival
        directives += release(roster)
        return .accepted(directives + clocks.bookkeeping())
    }

    func admitted(slot: Int, in roster: Roster) -> [UpdateDirective] {
        held[slot] = .now
        // Nobody starts before the initial world has joined: every rank's first weights are the
        // initial ones, as in sync mode, whatever order the workers join in.
        return roster.started ? release(roster) : []
    }

    func vacated(slot: Int, in roster: Roster) -> [UpdateDirective] {
        held[slot] = nil
        // The slowest may have been the worker that left.
        return release(roster)
    }

    /// Answers every held worker that may now go on: within the bound of the slowest, or done.
    private func release(_ roster: Roster) -> [UpdateDirective] {
        let lowest = slowest(roster)
        let now = ContinuousClock.now
        var directives: [UpdateDirective] = []
        for slot in held.keys.sorted() where !clocks.owesSteps(slot: slot) || clocks.clocks[slot] - lowest <= bound {
            if let since = held.removeValue(forKey: slot), clocks.owesSteps(slot: slot) {
                directives.append(.recordWait(slot: slot, epoch: clocks.clocks[slot] / clocks.plan.stepsPerEpoch,
                                              seconds: (now - since).seconds))
            }
            directives.append(clocks.reply(slot: slot, slowest: lowest))
        }
        return directives
    }
}
