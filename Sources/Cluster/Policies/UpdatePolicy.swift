import Datasets

/// When a parameter server applies gradients and whom it answers: `SyncRounds` (sync and local-SGD
/// modes, whose rounds differ only in how many steps they hold), `AsyncUpdates`, `BoundedStaleness`.
///
/// The server does the I/O, keeps the members and the accounting, and asks its policy at each
/// event: a push arrived, a worker's place was vacated or closed up, the workers were regrouped.
/// The policy checks what concerns its mode and answers with directives the server carries out in
/// order. Slots are the places of the workers taking part, as the server numbers them.
protocol UpdatePolicy: AnyObject {
    /// The mode this policy implements.
    var mode: TrainingMode { get }
    /// How workers come and go: elastic (sync: any number up to the maximum, from the next step) or
    /// fixed ranks (async, SSP: a newcomer takes over a vacant rank at its step).
    var membership: Membership { get }
    /// Whether every step has been taken.
    var isFinished: Bool { get }
    /// The step tag of messages not addressed to one worker's step (sync: the round; else 0).
    var roundStep: Int { get }
    /// The step a membership change takes effect from, and its epoch (0-based).
    var changePoint: (step: Int, epoch: Int) { get }
    /// The epoch in progress (0-based) and the fraction of it done, for the live display.
    var epochProgress: (epoch: Int, fraction: Double) { get }

    /// Where the worker in `slot` starts when welcomed: the step it computes next, where that step
    /// starts and the world size that cuts the global batch.
    func position(slot: Int, in roster: Roster) -> (step: Int, cursor: EpochCursor, worldSize: Int)
    /// The step the worker in `slot` computes next.
    func nextStep(slot: Int) -> Int
    /// Whether the worker in `slot` still owes pushes (one that was sent stop owes none, so it is
    /// neither sent heartbeats nor dropped).
    func owesSteps(slot: Int) -> Bool
    /// The slots whose pushes training waits for now, and the step it waits for.
    func awaited(in roster: Roster) -> (slots: [Int], step: Int)
    /// The slot training waits on while others are ready (a sync step held for its last push, an SSP
    /// worker held for the slowest), and since when; nil when nobody waits on anyone.
    func straggler(in roster: Roster) -> (slot: Int, step: Int, since: ContinuousClock.Instant)?

    /// Checks a push from the worker in `slot` tagged `step`: a reason to drop it, or what to do.
    func receive(_ push: GradientPush, step: UInt64, slot: Int, in roster: Roster,
                 at arrival: ContinuousClock.Instant) -> PushVerdict
    /// The worker in `slot` is gone and its place stays open (fixed ranks, or before the first step).
    func vacated(slot: Int, in roster: Roster) -> [UpdateDirective]
    /// Elastic membership: the worker in `slot` is gone and the slots after it move up one.
    func closed(slot: Int)
    /// Elastic membership: the workers taking part changed to `roster`; when `abandoning` the step in
    /// progress, its pushes are discarded and its samples are computed again from a new step number.
    func regrouped(_ roster: Roster, abandoning: Bool)
    /// The worker in `slot` joined (or joined again) and waits for its first weights: the directives
    /// that answer it (`sendWeights` to a worker not yet welcomed sends it a welcome).
    func admitted(slot: Int, in roster: Roster) -> [UpdateDirective]

    /// The policy's part of the state to resume from.
    func save(into state: inout ServerState)
}

/// How workers come and go under a policy.
enum Membership {
    /// Any number of workers up to the maximum; newcomers take part from the next step.
    case elastic
    /// A fixed number of ranks; a newcomer takes over a vacant one.
    case fixedRanks
}

/// The places of the workers taking part, as a policy sees them.
struct Roster {
    /// Whether each slot holds a worker (false: vacant, waiting for a worker to take it over).
    var occupied: [Bool]
    /// Whether the first `worldSize` workers have joined.
    var started: Bool

    /// The number of slots.
    var count: Int { occupied.count }
}

/// What a policy makes of a push.
enum PushVerdict {
    /// Drop it, for this reason (logged): it may be late or repeated, which happens in a healthy run.
    case dropped(String)
    /// Refuse it and let its worker go, for this reason: no healthy worker sends it (a wrong sample
    /// count), so the worker is told with an error and its place is freed at once.
    case refused(String)
    /// It counts: carry out these directives.
    case accepted([UpdateDirective])
}

/// A push for an update: its worker, the epoch it belongs to (0-based), when it arrived if it was
/// held for other workers' pushes (nil: applied on arrival), and how many steps its worker was ahead
/// of the slowest when it was given the weights it computed on.
struct HeldPush {
    var slot: Int
    var push: GradientPush
    var epoch: Int
    var arrival: ContinuousClock.Instant?
    var stepsAhead: Int = 0
}

/// How the gradients of one update are weighted.
enum Weighting: Equatable {
    /// Each by its samples over the samples of the pushes whose loss and gradient are finite (the
    /// mean one process with the global batch takes).
    case meanOfFinite
    /// Each by its samples over `samples`, the size of its global batch (async: a round of N
    /// pushes moves the weights as far as one sync step).
    case shareOf(samples: Int)
}

/// What a policy asks the server to do, in order.
enum UpdateDirective {
    /// One optimiser step with the weighted sum of these gradients (non-finite ones left out and
    /// counted as rejected); the pushes are recorded in their epoch's accounting either way.
    case apply([HeldPush], Weighting)
    /// The current weights to the worker in `slot`, which computes `step` next, `stepsAhead` steps
    /// ahead of the slowest worker taking part.
    case sendWeights(slot: Int, step: Int, stepsAhead: Int)
    /// Stop to the worker in `slot`: it has taken its last step.
    case stop(slot: Int)
    /// Every worker taking part computes `step` next: stop to all when training is finished, else a
    /// welcome to all when workers wait to take part, else the current weights to all.
    case nextRound(step: Int)
    /// `epoch` (0-based) has ended: report it.
    case reportEpoch(Int)
    /// Write the state file.
    case saveState
    /// The worker in `slot` was held `seconds` for the slowest before its weights: add it to its
    /// wait in `epoch` (0-based), the epoch of the step it computes next.
    case recordWait(slot: Int, epoch: Int, seconds: Double)
}

extension TrainingConfiguration {
    /// The policy of this configuration's mode for `worldSize` workers on `sampleCount` samples (see
    /// each policy's initialiser), resumed from `state` when given.
    func makePolicy(sampleCount: Int, worldSize: Int, maxSteps: Int?, checkpointEvery: Int,
                    resume state: ServerState?) throws -> any UpdatePolicy {
        switch mode {
        case .sync, .localSGD:
            SyncRounds(configuration: self, sampleCount: sampleCount, worldSize: worldSize, maxRounds: maxSteps,
                       checkpointEvery: checkpointEvery, resume: state)
        case .async:
            try AsyncUpdates(configuration: self, sampleCount: sampleCount, worldSize: worldSize, maxSteps: maxSteps,
                             checkpointEvery: checkpointEvery, resume: state)
        case .ssp:
            try BoundedStaleness(bound: staleness ?? 0, configuration: self, sampleCount: sampleCount, worldSize: worldSize,
                                 maxSteps: maxSteps, checkpointEvery: checkpointEvery, resume: state)
        }
    }
}
