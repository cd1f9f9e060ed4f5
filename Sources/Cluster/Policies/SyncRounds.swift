import Datasets

/// Sync mode: each step waits for one push from every worker taking part, applies their
/// sample-weighted mean in one update and sends every worker the same new weights, so N workers of
/// batch b train as one process with batch N·b. Membership is elastic: a newcomer takes part from
/// the next step, and when a worker is dropped the others compute the abandoned step's samples again.
final class SyncRounds: UpdatePolicy {
    let mode = TrainingMode.sync
    let membership = Membership.elastic
    private let epochs: Int
    private let maxSteps: Int?
    private let checkpointEvery: Int
    /// The first step waits for this many workers.
    private let initialWorldSize: Int
    /// The step being computed (the protocol's step number; abandoned steps are skipped).
    private(set) var step = 0
    /// Where the step being computed starts in its epoch.
    private(set) var cursor: EpochCursor
    /// The steps completed.
    private(set) var completedSteps = 0
    /// The pushes of the current step by slot.
    private var pending: [HeldPush?]

    /// A policy for `configuration.epochs` epochs (or `maxSteps` steps if fewer) of `sampleCount`
    /// samples, whose first step waits for `worldSize` workers; a state file is due every
    /// `checkpointEvery` steps (0: only at epoch ends). Resumes from `state` when given.
    init(configuration: TrainingConfiguration, sampleCount: Int, worldSize: Int, maxSteps: Int?, checkpointEvery: Int,
         resume state: ServerState?) {
        epochs = configuration.epochs
        self.maxSteps = maxSteps
        self.checkpointEvery = checkpointEvery
        initialWorldSize = worldSize
        cursor = EpochCursor(sampleCount: sampleCount, batchSizePerWorker: configuration.batchSizePerWorker)
        pending = .init(repeating: nil, count: worldSize)
        if let state {
            step = state.step
            completedSteps = state.completedSteps
            cursor = EpochCursor(sampleCount: sampleCount, batchSizePerWorker: configuration.batchSizePerWorker,
                                 epoch: state.epoch, offset: state.offset)
        }
    }

    var isFinished: Bool { cursor.epoch >= epochs || completedSteps >= (maxSteps ?? .max) }
    var roundStep: Int { step }
    var changePoint: (step: Int, epoch: Int) { (step, cursor.epoch) }
    var epochProgress: (epoch: Int, fraction: Double) { (cursor.epoch, Double(cursor.offset) / Double(cursor.sampleCount)) }

    /// Before the first step the global batch is cut for the initial world, after it for the workers taking part.
    private func worldSize(_ roster: Roster) -> Int { roster.started ? roster.count : initialWorldSize }

    func position(slot: Int, in roster: Roster) -> (step: Int, cursor: EpochCursor, worldSize: Int) {
        (step, cursor, worldSize(roster))
    }

    func nextStep(slot: Int) -> Int { step }
    func owesSteps(slot: Int) -> Bool { true }

    func awaited(in roster: Roster) -> (slots: [Int], step: Int) {
        (roster.occupied.indices.filter { pending[$0] == nil }, step)
    }

    func straggler(in roster: Roster) -> (slot: Int, step: Int, since: ContinuousClock.Instant)? {
        let waiting = pending.indices.filter { pending[$0] == nil && roster.occupied[$0] }
        guard roster.started, waiting.count == 1, let first = pending.compactMap({ $0?.arrival }).min() else { return nil }
        return (waiting[0], step, first)
    }

    func receive(_ push: GradientPush, step pushStep: UInt64, slot: Int, in roster: Roster,
                 at arrival: ContinuousClock.Instant) -> PushVerdict {
        guard pushStep == UInt64(step), !isFinished else { return .dropped("for step \(pushStep) (expected step \(step))") }
        guard pending[slot] == nil else { return .dropped("a second time for step \(step)") }
        let expected = cursor.positions(slot: slot, worldSize: worldSize(roster)).count
        guard push.sampleCount == expected else { return .refused("with \(push.sampleCount) samples, expected \(expected)") }
        pending[slot] = HeldPush(slot: slot, push: push, epoch: cursor.epoch, arrival: arrival)
        guard roster.started, pending.allSatisfy({ $0 != nil }) else { return .accepted([]) }
        let pushes = pending.map { $0! }
        let epoch = cursor.epoch
        pending = .init(repeating: nil, count: roster.count)
        cursor.advance(worldSize: roster.count)
        completedSteps += 1
        step += 1
        var directives: [UpdateDirective] = [.apply(pushes, .meanOfFinite), .nextRound(step: step)]
        let epochEnded = cursor.epoch != epoch
        if epochEnded { directives.append(.reportEpoch(epoch)) }
        if (checkpointEvery > 0 && completedSteps % checkpointEvery == 0) || epochEnded { directives.append(.saveState) }
        return .accepted(directives)
    }

    func vacated(slot: Int, in roster: Roster) -> [UpdateDirective] {
        pending[slot] = nil
        return []
    }

    func closed(slot: Int) { pending.remove(at: slot) }

    func regrouped(_ roster: Roster, abandoning: Bool) {
        pending = .init(repeating: nil, count: roster.count)
        if abandoning { step += 1 }
    }

    /// A worker with a place computes the step in progress at once.
    func admitted(slot: Int, in roster: Roster) -> [UpdateDirective] { [.sendWeights(slot: slot, step: step, stepsAhead: 0)] }

    func save(into state: inout ServerState) {
        state.step = step
        state.completedSteps = completedSteps
        state.epoch = cursor.epoch
        state.offset = cursor.offset
    }
}
