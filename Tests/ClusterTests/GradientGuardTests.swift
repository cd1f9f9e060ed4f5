import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster

/// Finite but huge gradients from an admitted peer are rejected as outliers and counted per rank; the
/// run trains on the honest worker's gradients. With the guard off they are applied (and wreck it).
@Suite(.timeLimit(.minutes(1))) struct GradientGuardTests {
    /// Rank of the scripted peer, the server's final weights and its epoch summaries.
    private struct Outcome {
        var peerRank: Int
        var peerPushes: Int
        var weights: [Float]
        var rejected: Int
        var summaries: [EpochSummary]
        var log: [String]
    }

    /// A scripted peer pushes gradients of `value` in every parameter at each of its steps beside a real
    /// worker, for 2 epochs of 90 samples (local-SGD mode: weight changes of `value`, in rounds of 2 steps).
    private func run(mode: TrainingMode, bound: GradientBound, value: Float) async throws -> Outcome {
        let set = SyncSetUp.dataset(count: 90)
        let configuration = mode == .localSGD
            ? LocalSGDSetUp.configuration(inner: .sgd(learningRate: 0.05, momentum: 0.9), batchSize: 16, epochs: 2, syncEvery: 2,
                                          outer: TrainingConfiguration.defaultOuterOptimizer)
            : SyncSetUp.configuration(.sgd, mode: mode, epochs: 2)
        let stepsPerRound = configuration.syncEvery ?? 1
        var cursor = EpochCursor(sampleCount: set.count, batchSizePerWorker: configuration.batchSizePerWorker)
        let initial = SyncSetUp.network()
        let serverLog = LogLines(), summaries = Summaries()
        let context = try Context()
        let server = try ParameterServer(
            context: context, bind: "tcp://127.0.0.1:*", weights: Array(initial.parameters), fingerprint: initial.fingerprint,
            configuration: configuration, dataset: DatasetDescription(describing: set, testCount: 0),
            settings: .init(worldSize: 2, joinTimeout: .seconds(30), stepTimeout: .seconds(30), peerLinesPerSecond: nil,
                            maxGradientNorm: bound),
            events: .init(logger: .lines(serverLog.append), onEpochEnd: summaries.append))
        async let finalWeights = server.run()
        let peer = try await ScriptedPeer.join(context: context, endpoint: server.endpoint, set: set, name: "huge-gradient-peer")
        let welcome = peer.welcome
        let worker = try Worker(context: context, connect: server.endpoint, trainingSet: set,
                                settings: Worker.Settings(timeout: .seconds(30), logger: .discarding)) { _ in SyncSetUp.network() }
        let workerRun = Task { try await worker.run() }
        var step = 0, pushes = 0
        loop: while step < 1000 {
            let samples = cursor.roundSampleCount(stepsPerRound, slot: welcome.slot, worldSize: 2)
            let gradient = [Float](repeating: value, count: initial.parameterCount)
            let push = GradientPush(sampleCount: samples, meanLoss: samples > 0 ? 1.5 : 0, isEndOfEpoch: samples == 0,
                                    gradient: samples > 0 ? .array(gradient) : .array([]))
            peer.push(push, step: step, fingerprint: initial.fingerprint)
            if samples > 0 { pushes += 1 }
            let reply = try await peer.next()
            switch reply.body {
            case .weights:
                step += 1
                cursor.advance(round: stepsPerRound, worldSize: 2)
            case .stop: break loop
            default: throw ClusterError.refused(reason: "unexpected \(reply.type)")
            }
        }
        _ = try await workerRun.value
        let weights = try await finalWeights
        let outcome = Outcome(peerRank: welcome.rank, peerPushes: pushes, weights: weights, rejected: await server.rejectedGradients,
                              summaries: summaries.all, log: serverLog.lines)
        peer.pump.close()
        await worker.close()
        await server.close()
        return outcome
    }

    @Test(arguments: [TrainingMode.sync, .async, .localSGD])
    func hugeFiniteGradientsAreRejectedAndCountedPerRank(mode: TrainingMode) async throws {
        let outcome = try await run(mode: mode, bound: .standard, value: 1e30)
        #expect(outcome.rejected == outcome.peerPushes, "\(outcome.log)")
        let perRank = outcome.summaries.reduce(0) { $0 + $1.ranks[outcome.peerRank].rejected }
        #expect(perRank == outcome.peerPushes)
        #expect(outcome.summaries.reduce(0) { $0 + $1.ranks[1 - outcome.peerRank].rejected } == 0, "the honest worker is never rejected")
        #expect(outcome.weights.allSatisfy { $0.isFinite && abs($0) < 10 }, "the weights stay those of honest training")
        #expect(outcome.log.contains { $0.contains("rejected the gradient of rank \(outcome.peerRank)") && $0.contains("beyond the limit") })
    }

    @Test func aFixedBoundRejectsAboveItAndOffAppliesEverything() async throws {
        let fixed = try await run(mode: .sync, bound: .fixed(1e6), value: 1e30)
        #expect(fixed.rejected == fixed.peerPushes)
        #expect(fixed.log.contains { $0.contains("beyond the limit 1e+06 (a norm of 1000000.0)") }, "\(fixed.log)")
        let off = try await run(mode: .sync, bound: .off, value: 1e30)
        #expect(!off.log.contains { $0.contains("beyond the limit") })
        #expect(off.weights.contains { !$0.isFinite || abs($0) > 1e20 }, "with the guard off the huge gradients are applied")
    }

    /// The guard's limits, step by step: while warming up a push is compared with the other ranks'
    /// (so a huge first gradient beside an honest one is caught) and, with nothing else known, with
    /// ‖weights‖ / lr; later the lower median of the applied norms rules, and outliers never enter it.
    @Test func theLimitFollowsTheLowerMedianOfAppliedNorms() {
        var guarded = GradientGuard(bound: .relative(factor: 10))
        func limits(_ pushes: [(rank: Int, norm: Double)], scale: Double? = nil) -> [Double?] {
            guarded.limits(for: pushes, scale: scale).map(\.limit)
        }
        #expect(guarded.isWarmingUp)
        #expect(limits([(0, 1.0), (1, 1e30)], scale: 0.5) == [1e31, 10], "each is compared with the other")
        #expect(limits([(1, 1e30)], scale: 0.5) == [5], "a lone first push is held to the weights' scale")
        guarded.record(checked: [(1, 1e30)], applied: [], rejectedByScale: 1)
        #expect(limits([(1, 1e30)], scale: 0.5) == [5], "its own rejected pushes are no reference")
        #expect(limits([(0, 2.0)], scale: 0.5) == [1e31], "another rank's are")
        guarded.record(checked: [(0, 2.0)], applied: [2.0], rejectedByScale: 0)
        #expect(limits([(1, 1e30)]) == [20])
        guarded.record(checked: [], applied: [1, 3, 4, 5, 6, 7, 8, 0], rejectedByScale: 0)
        #expect(!guarded.isWarmingUp)
        #expect(limits([(1, 1e30)]) == [40], "10 × the lower median of 1…8")
        for _ in 0..<100 { guarded.record(checked: [(0, 0.5)], applied: [0.5], rejectedByScale: 0) }
        #expect(limits([(0, 1)]) == [5], "only the last \(GradientGuard.window) norms count")
        var alone = GradientGuard(bound: .standard)
        for _ in 0..<GradientGuard.warmUp { alone.record(checked: [(0, 3)], applied: [], rejectedByScale: 1) }
        #expect(alone.limits(for: [(0, 3)], scale: 0.1).map(\.limit) == [nil], "a lone worker is trusted after \(GradientGuard.warmUp) rejections")
        #expect(GradientGuard(bound: .off).limits(for: [(0, 1e30)]).map(\.limit) == [nil])
        #expect(GradientGuard(bound: .fixed(3)).limits(for: [(0, 1)]).map(\.limit) == [3])
    }
}
