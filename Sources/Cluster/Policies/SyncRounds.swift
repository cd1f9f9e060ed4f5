import Datasets

/// Sync mode and local-SGD mode (DiLoCo): a round waits for one push from every worker taking part,
/// applies their sample-weighted mean in one update and sends every worker the same new weights.
///
/// In sync mode a round is one step of the global batch, so N workers of batch b train as one process
/// with batch N·b. In local-SGD mode a round is up to `syncEvery` steps of the global batch, cut among
/// the workers as sync mode cuts it, and ends early after the last step of an epoch: each worker takes
/// the round's steps with the inner optimiser on its own replica and pushes its weights' change over
/// the round (weights at the round's start minus weights at its end) with the round's sample count,
/// and the server applies the outer optimiser to the mean change as if it were a gradient. With
/// `syncEvery` 1, outer SGD of lr 1 without momentum and inner SGD that is sync mode, up to rounding.
///
/// Membership is elastic at round boundaries: a newcomer takes part from the next round, and when a
/// worker is dropped the others compute the abandoned round's samples again (from the round's start
/// weights). The protocol's step number is the round number.
final class SyncRounds: UpdatePolicy {
    let mode: TrainingMode
    let membership = Membership.elastic
    /// The most steps of a round: 1 in sync mode.
    let stepsPerRound: Int
    private let epochs: Int
    private let maxRounds: Int?
    private let checkpointEvery: Int
    /// The first round waits for this many workers.
    private let initialWorldSize: Int
    /// What a round is called in messages: "step" in sync mode, "round" in local-SGD mode.
    private let noun: String
    /// The round being computed (abandoned rounds are skipped).
    private(set) var round = 0
    /// Where the round being computed starts in its epoch.
    private(set) var cursor: EpochCursor
    /// The rounds completed.
    private(set) var completedRounds = 0
    /// The pushes of the current round by slot.
    private var pending: [HeldPush?]

    /// A policy for `configuration.epochs` epochs (or `maxRounds` rounds if fewer) of `sampleCount`
    /// samples, in rounds of one step in sync mode and of `configuration.syncEvery` steps in local-SGD
    /// mode, whose first round waits for `worldSize` workers; a state file is due every
    /// `checkpointEvery` rounds (0: only at epoch ends). Resumes from `state` when given.
    init(configuration: TrainingConfiguration, sampleCount: Int, worldSize: Int, maxRounds: Int?, checkpointEvery: Int,
         resume state: ServerState?) {
        precondition(configuration.mode == .sync || configuration.mode == .localSGD, "rounds are sync's and local SGD's")
        mode = configuration.mode
        stepsPerRound = mode == .localSGD ? configuration.syncEvery ?? 1 : 1
        noun = mode == .localSGD ? "round" : "step"
        epochs = configuration.epochs
        self.maxRounds = maxRounds
        self.checkpointEvery = checkpointEvery
        initialWorldSize = worldSize
        cursor = EpochCursor(sampleCount: sampleCount, batchSizePerWorker: configuration.batchSizePerWorker)
        pending = .init(repeating: nil, count: worldSize)
        if let state {
            round = state.step
            completedRounds = state.completedSteps
            cursor = EpochCursor(sampleCount: sampleCount, batchSizePerWorker: configuration.batchSizePerWorker,
                                 epoch: state.epoch, offset: state.offset)
        }
    }

    var isFinished: Bool { cursor.epoch >= epochs || completedRounds >= (maxRounds ?? .max) }
    var roundStep: Int { round }
    var changePoint: (step: Int, epoch: Int) { (round, cursor.epoch) }
    var epochProgress: (epoch: Int, fraction: Double) { (cursor.epoch, Double(cursor.offset) / Double(cursor.sampleCount)) }

    /// Before the first round the global batch is cut for the initial world, after it for the workers taking part.
    private func worldSize(_ roster: Roster) -> Int { roster.started ? roster.count : initialWorldSize }

    func position(slot: Int, in roster: Roster) -> (step: Int, cursor: EpochCursor, worldSize: Int) {
        (round, cursor, worldSize(roster))
    }

    func nextStep(slot: Int) -> Int { round }
    func owesSteps(slot: Int) -> Bool { true }

    func awaited(in roster: Roster) -> (slots: [Int], step: Int) {
        (roster.occupied.indices.filter { pending[$0] == nil }, round)
    }

    func straggler(in roster: Roster) -> (slot: Int, step: Int, since: ContinuousClock.Instant)? {
        let waiting = pending.indices.filter { pending[$0] == nil && roster.occupied[$0] }
        guard roster.started, waiting.count == 1, let first = pending.compactMap({ $0?.arrival }).min() else { return nil }
        return (waiting[0], round, first)
    }

    func receive(_ push: GradientPush, step pushStep: UInt64, slot: Int, in roster: Roster,
                 at arrival: ContinuousClock.Instant) -> PushVerdict {
        guard pushStep == UInt64(round), !isFinished else { return .dropped("for \(noun) \(pushStep) (expected \(noun) \(round))") }
        guard pending[slot] == nil else { return .dropped("a second time for \(noun) \(round)") }
        let expected = cursor.roundSampleCount(stepsPerRound, slot: slot, worldSize: worldSize(roster))
        guard push.sampleCount == expected else {
            return .refused("with \(push.sampleCount) samples, expected \(expected)" + (stepsPerRound > 1 ? " for the round" : ""))
        }
        pending[slot] = HeldPush(slot: slot, push: push, epoch: cursor.epoch, arrival: arrival)
        guard roster.started, pending.allSatisfy({ $0 != nil }) else { return .accepted([]) }
        let pushes = pending.map { $0! }
        let epoch = cursor.epoch
        pending = .init(repeating: nil, count: roster.count)
        cursor.advance(round: stepsPerRound, worldSize: roster.count)
        completedRounds += 1
        round += 1
        var directives: [UpdateDirective] = [.apply(pushes, .meanOfFinite), .nextRound(step: round)]
        let epochEnded = cursor.epoch != epoch
        if epochEnded { directives.append(.reportEpoch(epoch)) }
        if (checkpointEvery > 0 && completedRounds % checkpointEvery == 0) || epochEnded { directives.append(.saveState) }
        return .accepted(directives)
    }

    func vacated(slot: Int, in roster: Roster) -> [UpdateDirective] {
        pending[slot] = nil
        return []
    }

    func closed(slot: Int) { pending.remove(at: slot) }

    func regrouped(_ roster: Roster, abandoning: Bool) {
        pending = .init(repeating: nil, count: roster.count)
        if abandoning { round += 1 }
    }

    /// A worker with a place computes the round in progress at once.
    func admitted(slot: Int, in roster: Roster) -> [UpdateDirective] { [.sendWeights(slot: slot, step: round, stepsAhead: 0)] }

    func save(into state: inout ServerState) {
        state.step = round
        state.completedSteps = completedRounds
        state.epoch = cursor.epoch
        state.offset = cursor.offset
    }
}
