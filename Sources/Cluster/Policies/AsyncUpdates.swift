import Datasets

/// Async mode: each push is applied as it arrives, weighted by its share of its global batch, and
/// only its sender gets the newest weights back. The ranks are fixed; a newcomer takes over a
/// vacant one at its step. A rank's gradient is about one update stale per other rank.
final class AsyncUpdates: FixedRankPolicy {
    let mode = TrainingMode.async
    private(set) var clocks: RankClocks

    func moveClock(slot: Int, to step: Int) { clocks.move(slot: slot, to: step) }

    /// A policy for `worldSize` fixed ranks (see `RankClocks`).
    init(configuration: TrainingConfiguration, sampleCount: Int, worldSize: Int, maxSteps: Int?, checkpointEvery: Int,
         resume state: ServerState?) throws {
        clocks = try RankClocks(configuration: configuration, sampleCount: sampleCount, worldSize: worldSize,
                                maxSteps: maxSteps, checkpointEvery: checkpointEvery, resume: state)
    }

    /// Nobody waits on anybody in async mode.
    func straggler(in roster: Roster) -> (slot: Int, step: Int, since: ContinuousClock.Instant)? { nil }

    func receive(_ push: GradientPush, step: UInt64, slot: Int, in roster: Roster,
                 at arrival: ContinuousClock.Instant) -> PushVerdict {
        if let verdict = clocks.check(push, step: step, slot: slot) { return verdict }
        let apply = clocks.advance(push, slot: slot)
        return .accepted([apply, clocks.reply(slot: slot, slowest: clocks.lowestOwing)] + clocks.bookkeeping())
    }

    /// A worker taking a rank starts at once, at the rank's step.
    func admitted(slot: Int, in roster: Roster) -> [UpdateDirective] { [clocks.reply(slot: slot, slowest: clocks.lowestOwing)] }
    func vacated(slot: Int, in roster: Roster) -> [UpdateDirective] { [] }
}
