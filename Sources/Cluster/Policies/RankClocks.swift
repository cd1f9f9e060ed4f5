import Datasets

/// The progress of a fixed number of ranks that each step through their own slice of every global
/// batch at their own pace (async and SSP): a rank's clock is the step it computes next.
///
/// Rank r's step k of an epoch covers `ShardPlan.positions(step: k, rank: r)`, so every sample of an
/// epoch is pushed once whatever the order of arrival, and a rank taken over by a new worker goes on
/// at its step. An epoch ends when every rank has pushed all of its steps.
struct RankClocks {
    /// The fixed plan of `worldSize` ranks.
    let plan: ShardPlan
    /// The steps each rank takes: all of the epochs', or `maxSteps` if fewer.
    let totalSteps: Int
    private let epochs: Int
    private let checkpointEvery: Int
    /// Each rank's next step, by slot.
    private(set) var clocks: [Int]
    /// How many steps each rank was ahead of the slowest when it was last given weights, by slot.
    private var ahead: [Int]
    /// The next epoch to report (0-based), once every rank's pushes for it are in.
    private var nextEpochToReport = 0

    /// Clocks for `worldSize` ranks over `configuration.epochs` epochs of `sampleCount` samples (or
    /// `maxSteps` steps per rank if fewer); a state file is due every `checkpointEvery` pushes (0: only
    /// at epoch ends). Resumes from `state`, which must have been saved with as many ranks.
    init(configuration: TrainingConfiguration, sampleCount: Int, worldSize: Int, maxSteps: Int?, checkpointEvery: Int,
         resume state: ServerState?) throws {
        plan = ShardPlan(sampleCount: sampleCount, workerCount: worldSize, batchSizePerWorker: configuration.batchSizePerWorker)
        epochs = configuration.epochs
        totalSteps = min(maxSteps ?? .max, plan.stepsPerEpoch * configuration.epochs)
        self.checkpointEvery = checkpointEvery
        clocks = .init(repeating: 0, count: worldSize)
        ahead = .init(repeating: 0, count: worldSize)
        if let state {
            guard state.slotSteps.count == worldSize else {
                throw ClusterError.cannotResume("it was saved with \(state.slotSteps.count) \(configuration.mode.rawValue) ranks, not \(worldSize)")
            }
            clocks = state.slotSteps
            nextEpochToReport = (clocks.min() ?? 0) / plan.stepsPerEpoch
        }
    }

    /// Whether every rank has taken its last step.
    var isFinished: Bool { clocks.allSatisfy { $0 >= totalSteps } }
    /// The lowest clock.
    var lowest: Int { clocks.min() ?? 0 }
    /// The lowest clock of the ranks with steps left (the total when none has).
    var lowestOwing: Int { clocks.filter { $0 < totalSteps }.min() ?? totalSteps }
    var changePoint: (step: Int, epoch: Int) { (lowest, lowest / plan.stepsPerEpoch) }
    var epochProgress: (epoch: Int, fraction: Double) {
        (lowest / plan.stepsPerEpoch, Double(lowest % plan.stepsPerEpoch) / Double(plan.stepsPerEpoch))
    }

    /// Where the rank in `slot` goes on: its clock, and the position of its slice there.
    func position(slot: Int) -> (step: Int, cursor: EpochCursor, worldSize: Int) {
        (clocks[slot], EpochCursor(plan: plan, step: min(clocks[slot], totalSteps - 1)), plan.workerCount)
    }

    /// Whether the rank in `slot` has steps left.
    func owesSteps(slot: Int) -> Bool { clocks[slot] < totalSteps }

    /// The ranks with steps left, and the lowest of their clocks.
    var awaited: (slots: [Int], step: Int) {
        let behind = clocks.indices.filter(owesSteps)
        return (behind, behind.map { clocks[$0] }.min() ?? lowest)
    }

    /// Checks that a push of the rank in `slot` is for its clock and covers its slice: nil if it
    /// does, else why it is dropped (another step) or refused (another sample count).
    func check(_ push: GradientPush, step: UInt64, slot: Int) -> PushVerdict? {
        let clock = clocks[slot]
        guard step == UInt64(clock), clock < totalSteps else { return .dropped("for step \(step) (expected step \(clock))") }
        let expected = plan.positions(step: clock % plan.stepsPerEpoch, rank: slot).count
        guard push.sampleCount == expected else { return .refused("with \(push.sampleCount) samples, expected \(expected)") }
        return nil
    }

    /// Moves the rank in `slot` past a checked push: the update to apply at once, weighted by the
    /// push's share of its global batch as sync weights it.
    mutating func advance(_ push: GradientPush, slot: Int) -> UpdateDirective {
        let step = clocks[slot]
        clocks[slot] = step + 1
        let held = HeldPush(slot: slot, push: push, epoch: step / plan.stepsPerEpoch, arrival: nil, stepsAhead: ahead[slot])
        return .apply([held], .shareOf(samples: plan.globalPositions(step: step % plan.stepsPerEpoch).count))
    }

    /// The reply to the rank in `slot` once it may go on: stop after its last step, else the weights
    /// for its clock, given while the slowest rank that counts is at `slowest`.
    mutating func reply(slot: Int, slowest: Int) -> UpdateDirective {
        guard owesSteps(slot: slot) else { return .stop(slot: slot) }
        ahead[slot] = max(clocks[slot] - slowest, 0)
        return .sendWeights(slot: slot, step: clocks[slot], stepsAhead: ahead[slot])
    }

    /// The epochs every rank has now finished, to report, and a state file when one is due.
    mutating func bookkeeping() -> [UpdateDirective] {
        var directives: [UpdateDirective] = []
        while nextEpochToReport < epochs, clocks.allSatisfy({ $0 >= (nextEpochToReport + 1) * plan.stepsPerEpoch }) {
            directives.append(.reportEpoch(nextEpochToReport))
            nextEpochToReport += 1
        }
        let pushes = clocks.reduce(0, +)
        if (checkpointEvery > 0 && pushes % checkpointEvery == 0) || !directives.isEmpty { directives.append(.saveState) }
        return directives
    }

    /// Sets the clock of the rank in `slot` to `step` (a server shard resumed from its state file takes
    /// the step its worker is at on the other shards).
    mutating func move(slot: Int, to step: Int) {
        clocks[slot] = min(max(step, 0), totalSteps)
    }

    /// Each rank resumes at its own clock; the state's step and position are the lowest clock's.
    func save(into state: inout ServerState) {
        let position = EpochCursor(plan: plan, step: lowest)
        state.step = lowest
        state.completedSteps = lowest
        state.epoch = position.epoch
        state.offset = position.offset
        state.slotSteps = clocks
    }
}

/// A policy over fixed ranks (async, SSP): the answers that follow from the ranks' clocks alone.
protocol FixedRankPolicy: UpdatePolicy {
    /// The ranks' progress.
    var clocks: RankClocks { get }
    /// Sets the clock of the rank in `slot` to `step`.
    func moveClock(slot: Int, to step: Int)
}

extension FixedRankPolicy {
    var membership: Membership { .fixedRanks }
    var isFinished: Bool { clocks.isFinished }
    var roundStep: Int { 0 }
    var changePoint: (step: Int, epoch: Int) { clocks.changePoint }
    var epochProgress: (epoch: Int, fraction: Double) { clocks.epochProgress }

    func position(slot: Int, in roster: Roster) -> (step: Int, cursor: EpochCursor, worldSize: Int) { clocks.position(slot: slot) }
    func nextStep(slot: Int) -> Int { clocks.clocks[slot] }
    func owesSteps(slot: Int) -> Bool { clocks.owesSteps(slot: slot) }
    func awaited(in roster: Roster) -> (slots: [Int], step: Int) { clocks.awaited }
    func closed(slot: Int) { preconditionFailure("\(mode.rawValue) ranks are fixed: a place is vacated, never closed") }
    func regrouped(_ roster: Roster, abandoning: Bool) { preconditionFailure("\(mode.rawValue) ranks are fixed: they are never regrouped") }
    func save(into state: inout ServerState) { clocks.save(into: &state) }
}
