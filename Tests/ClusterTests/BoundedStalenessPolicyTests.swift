import Datasets
import Testing
@testable import Cluster

/// The SSP policy driven directly through random arrival orders, drops and take-overs: the bound
/// holds at every grant, every rank's step is applied once, every sample of every epoch is covered
/// once, epochs are reported once and in order, and training never stalls while a worker can go on.
@Suite struct BoundedStalenessPolicyTests {
    /// One simulated worker per rank: computing the step it was given, held by the server, or gone.
    private enum Worker: Equatable {
        case computing(step: Int)
        case waiting
        case gone
        case done
    }

    private struct Run {
        let bound: Int
        let ranks: Int
        let samples: Int
        let epochs: Int
        let batch = 4
        var workers: [Worker]
        var clocks: [Int]
        var started = false
        var covered: [Int: [Int]] = [:]  // epoch → how often each position was pushed
        var applied: Set<[Int]> = []
        var reported: [Int] = []
        var worstLead = 0
        var grants = 0

        init(bound: Int, ranks: Int, samples: Int, epochs: Int) {
            (self.bound, self.ranks, self.samples, self.epochs) = (bound, ranks, samples, epochs)
            workers = .init(repeating: .gone, count: ranks)
            clocks = .init(repeating: 0, count: ranks)
        }

        var roster: Roster { Roster(occupied: workers.map { $0 != .gone }, started: started) }
        var plan: ShardPlan { ShardPlan(sampleCount: samples, workerCount: ranks, batchSizePerWorker: batch) }
        var total: Int { plan.stepsPerEpoch * epochs }

        /// Checks and carries out what the policy asked, as the server would.
        mutating func perform(_ directives: [UpdateDirective]) {
            for directive in directives {
                switch directive {
                case .apply(let pushes, let weighting):
                    #expect(pushes.count == 1)
                    let push = pushes[0]
                    #expect(weighting == .shareOf(samples: plan.globalPositions(step: clocks[push.slot] - 1 - push.epoch * plan.stepsPerEpoch).count))
                    #expect(push.stepsAhead <= bound, "a push computed \(push.stepsAhead) steps ahead, bound \(bound)")
                case .sendWeights(let slot, let step, let ahead):
                    // The bound, judged independently: every rank that counts is at most `bound` behind.
                    let counting = (0..<ranks).filter { clocks[$0] < total && (!started || workers[$0] != .gone) }
                    let slowest = counting.map { clocks[$0] }.min() ?? total
                    #expect(step == clocks[slot])
                    #expect(step - slowest <= bound, "rank \(slot) given step \(step) while the slowest is at \(slowest)")
                    #expect(ahead == max(step - slowest, 0))
                    worstLead = max(worstLead, ahead)
                    grants += 1
                    #expect(workers[slot] == .waiting, "weights for rank \(slot), which was not waiting")
                    workers[slot] = .computing(step: step)
                case .stop(let slot):
                    #expect(clocks[slot] == total)
                    workers[slot] = .done
                case .reportEpoch(let epoch):
                    reported.append(epoch)
                case .saveState:
                    break
                case .recordWait(let slot, let epoch, let seconds):
                    // Held before the step it computes next, which belongs to `epoch`, not yet reported.
                    #expect(seconds >= 0 && workers[slot] == .waiting)
                    #expect(epoch == clocks[slot] / plan.stepsPerEpoch && !reported.contains(epoch))
                case .nextRound:
                    Issue.record("SSP has no rounds")
                }
            }
        }
    }

    private func simulate(bound: Int, ranks: Int, seed: UInt64, churn: Bool) throws -> Run {
        var random = SplitMix(seed: seed)
        let configuration = TrainingConfiguration(model: "m", dataset: "d", optimizer: .sgd(learningRate: 0.1),
                                                  batchSizePerWorker: 4, epochs: 3, seed: 1, mode: .ssp, staleness: bound)
        var run = Run(bound: bound, ranks: ranks, samples: 50, epochs: 3)
        let policy = try BoundedStaleness(bound: bound, configuration: configuration, sampleCount: run.samples,
                                          worldSize: ranks, maxSteps: nil, checkpointEvery: 7, resume: nil)
        var events = 0
        while !policy.isFinished {
            events += 1
            try #require(events < 10_000, "no end after 10,000 events")
            let computing = (0..<ranks).filter { if case .computing = run.workers[$0] { true } else { false } }
            let gone = (0..<ranks).filter { run.workers[$0] == .gone && run.clocks[$0] < run.total }
            let roll = Int.random(in: 0..<100, using: &random)
            if !gone.isEmpty && (computing.isEmpty || roll < (run.started ? 8 : 40)) {
                // A worker joins: a vacant rank taken over (before the start, the initial world joining).
                let slot = gone.randomElement(using: &random)!
                run.workers[slot] = .waiting
                if !run.started && run.workers.allSatisfy({ $0 != .gone }) { run.started = true }
                run.perform(policy.admitted(slot: slot, in: run.roster))
            } else if churn && run.started && roll < 12, let slot = computing.randomElement(using: &random) {
                // A computing worker dies: its step is computed again by the worker that takes over.
                run.workers[slot] = .gone
                run.perform(policy.vacated(slot: slot, in: run.roster))
            } else {
                let held = (0..<ranks).filter { run.workers[$0] == .waiting }
                try #require(!computing.isEmpty, "stalled: ranks \(held) wait and nobody computes (clocks \(run.clocks))")
                let slot = computing.randomElement(using: &random)!
                guard case .computing(let step) = run.workers[slot] else { continue }
                let positions = run.plan.positions(step: step % run.plan.stepsPerEpoch, rank: slot)
                let push = GradientPush(sampleCount: positions.count, meanLoss: 1, gradient: .array([]))
                run.workers[slot] = .waiting
                switch policy.receive(push, step: UInt64(step), slot: slot, in: run.roster, at: .now) {
                case .dropped(let reason), .refused(let reason):
                    Issue.record("rank \(slot)'s push of step \(step) was dropped: \(reason)")
                case .accepted(let directives):
                    #expect(run.applied.insert([slot, step]).inserted, "rank \(slot)'s step \(step) applied twice")
                    run.clocks[slot] = step + 1
                    let epoch = step / run.plan.stepsPerEpoch
                    var counts = run.covered[epoch] ?? .init(repeating: 0, count: run.samples)
                    for position in positions { counts[position] += 1 }
                    run.covered[epoch] = counts
                    run.perform(directives)
                }
                // A repeated push of the same step is dropped.
                if case .dropped = policy.receive(push, step: UInt64(step), slot: slot, in: run.roster, at: .now) {} else {
                    Issue.record("a repeated push of rank \(slot)'s step \(step) was accepted")
                }
            }
        }
        return run
    }

    @Test(arguments: [0, 1, 3])
    func theBoundHoldsAndNoSampleIsLostOrCountedTwice(bound: Int) throws {
        for seed in 1...40 as ClosedRange<UInt64> {
            let run = try simulate(bound: bound, ranks: 4, seed: seed, churn: seed % 2 == 0)
            #expect(run.applied.count == 4 * run.total, "seed \(seed)")
            #expect(run.reported == [0, 1, 2], "seed \(seed): epochs reported \(run.reported)")
            for epoch in 0..<3 {
                #expect(run.covered[epoch] == [Int](repeating: 1, count: run.samples), "seed \(seed): epoch \(epoch)")
            }
            #expect(run.worstLead <= bound)
            #expect(run.workers.allSatisfy { $0 == .done || $0 == .gone }, "seed \(seed): \(run.workers)")
        }
    }

    /// With a bound of 0 every grant is made with all ranks at the same step, as in sync mode; with a
    /// bound of 3 workers do run ahead (the bound is used, not only respected).
    @Test func boundZeroIsLockstepAndALargerBoundIsUsed() throws {
        #expect(try simulate(bound: 0, ranks: 3, seed: 5, churn: false).worstLead == 0)
        let leads = try (1...10 as ClosedRange<UInt64>).map { try simulate(bound: 3, ranks: 3, seed: $0, churn: false).worstLead }
        #expect(leads.max() == 3, "worst leads \(leads)")
    }

    /// Nobody starts before the initial world has joined, so every rank's first weights are the initial
    /// ones (as in sync mode, and what makes a bound of 0 equal sync whatever the join order).
    @Test func nobodyStartsBeforeTheInitialWorld() throws {
        let configuration = TrainingConfiguration(model: "m", dataset: "d", optimizer: .sgd(learningRate: 0.1),
                                                  batchSizePerWorker: 4, epochs: 1, seed: 1, mode: .ssp, staleness: 1)
        let policy = try BoundedStaleness(bound: 1, configuration: configuration, sampleCount: 50, worldSize: 2,
                                          maxSteps: nil, checkpointEvery: 0, resume: nil)
        func grants(_ directives: [UpdateDirective]) -> [String] {
            directives.compactMap { if case .sendWeights(let slot, let step, let ahead) = $0 { "\(slot):\(step):\(ahead)" } else { nil } }
        }
        let alone = policy.admitted(slot: 0, in: Roster(occupied: [true, false], started: false))
        #expect(grants(alone).isEmpty, "rank 0 got weights before rank 1 joined: \(alone)")
        let both = Roster(occupied: [true, true], started: true)
        let joined = policy.admitted(slot: 1, in: both)
        #expect(grants(joined).sorted() == ["0:0:0", "1:0:0"], "\(joined)")
        #expect(joined.contains { if case .recordWait(0, 0, let seconds) = $0 { seconds >= 0 } else { false } },
                "rank 0's wait for the initial world is not counted: \(joined)")
        let push = GradientPush(sampleCount: 4, meanLoss: 1, gradient: .array([]))
        guard case .accepted(let afterOne) = policy.receive(push, step: 0, slot: 0, in: both, at: .now) else {
            Issue.record("rank 0's push of step 0 was dropped")
            return
        }
        #expect(grants(afterOne) == ["0:1:1"], "one step ahead is allowed: \(afterOne)")
        guard case .accepted(let afterTwo) = policy.receive(push, step: 1, slot: 0, in: both, at: .now) else {
            Issue.record("rank 0's push of step 1 was dropped")
            return
        }
        #expect(grants(afterTwo).isEmpty, "two steps ahead of rank 1 must wait: \(afterTwo)")
        #expect(policy.straggler(in: both)?.slot == 1, "rank 0 waits on rank 1")
    }
}
