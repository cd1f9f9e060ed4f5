import Datasets
import Engine
import Foundation

/// The worker's loop in local-SGD mode: rounds of local optimiser steps, one push of the weights' change per round.
extension Worker {
    /// Trains in local-SGD rounds from `start` until stop, adding to `statistics`: at each round the
    /// worker takes the round's steps (up to `configuration.syncEvery`, fewer at an epoch's end) on its
    /// slice of each step's global batch with the inner optimiser (`configuration.optimizer`, whose
    /// state it keeps from round to round), then pushes weights at the round's start minus weights now,
    /// with the round's samples and mean loss, and waits for the server's next weights.
    func trainLocally(_ replica: Replica, from start: Assignment, configuration: TrainingConfiguration,
                      statistics: inout WorkerStatistics) async throws -> WorkerStatistics {
        let model = replica.model, trainingSet = replica.trainingSet
        let criterion = Criterion(replica.objective)
        let loader = DataLoader(trainingSet, batchSize: configuration.batchSizePerWorker, shuffle: true, seed: configuration.seed)
        let optimizer = configuration.optimizer.makeOptimizer(parameterCount: model.parameterCount)
        let stepsPerRound = configuration.syncEvery ?? 1
        let rounds = LocalRoundSteps(model: model, trainingSet: trainingSet, loader: loader, optimizer: optimizer, criterion: criterion,
                                 seed: configuration.seed)
        var assignment = start
        while true {
            let computeStart = ContinuousClock.now
            statistics.rank = assignment.rank
            let steps = assignment.cursor.roundSteps(stepsPerRound, worldSize: assignment.worldSize)
            // The round's steps run on the compute thread while this one sends heartbeats.
            let (weights, slot, worldSize) = (assignment.weights, assignment.slot, assignment.worldSize)
            let (roundStart, samples, lossSum) = await client.compute(on: computeThread, heartbeat: (UInt32(assignment.rank), model.fingerprint)) {
                rounds.run(steps, from: weights, slot: slot, worldSize: worldSize)
            }
            let isEndOfEpoch = steps.last!.isLastStepOfEpoch(worldSize: assignment.worldSize)
            let push: GradientPush
            if samples > 0 {
                var change = roundStart
                change.withUnsafeMutableBufferPointer { change in
                    for index in change.indices { change[index] -= model.parameters[index] }
                }
                push = GradientPush(sampleCount: samples, meanLoss: lossSum / Double(samples), isEndOfEpoch: isEndOfEpoch,
                                    gradient: .array(change))
            } else {
                push = GradientPush(sampleCount: 0, meanLoss: 0, isEndOfEpoch: isEndOfEpoch, gradient: .array([]))
            }
            client.push(push, step: assignment.step, rank: assignment.rank, fingerprint: model.fingerprint)
            statistics.pushes += 1
            statistics.samples += samples
            var next = assignment.cursor
            next.advance(round: stepsPerRound, worldSize: assignment.worldSize)
            let pushed = ContinuousClock.now
            statistics.computeSeconds += (pushed - computeStart).seconds
            let reply = try await client.awaitReply(after: assignment.step, rank: assignment.rank, fingerprint: model.fingerprint,
                                                    parameterCount: model.parameterCount)
            statistics.exchangeSeconds += (ContinuousClock.now - pushed).seconds
            switch reply {
            case .weights(let weights, let nextStep):
                assignment.weights = weights
                assignment.step = nextStep
                assignment.cursor = next
            case .welcome(let welcome, let step, let fingerprint):
                // The workers taking part changed: a new slice (and maybe rank), from the welcome's round.
                assignment = try accept(welcome, step: step, fingerprint: fingerprint, model: model, sampleCount: trainingSet.count)
            case .stop:
                return statistics
            }
        }
    }
}

/// A local-SGD worker's rounds, run on its compute thread: the model, data, inner optimiser and the
/// epoch's sample order, touched only there while the worker awaits a round.
private final class LocalRoundSteps: @unchecked Sendable {
    // Unchecked: used by the compute thread only while the worker awaits `run`, and by nobody else
    // (the hand-offs are the compute thread's queue lock and the result's lock).
    private let model: Model
    private let trainingSet: LabeledDataset
    private let loader: DataLoader
    private let optimizer: any Optimizer
    private let criterion: Criterion
    private let seed: UInt64
    private var order: (epoch: Int, positions: [Int32])?

    init(model: Model, trainingSet: LabeledDataset, loader: DataLoader, optimizer: any Optimizer, criterion: Criterion, seed: UInt64) {
        (self.model, self.trainingSet, self.loader, self.optimizer, self.criterion, self.seed)
            = (model, trainingSet, loader, optimizer, criterion, seed)
    }

    /// Loads `weights` and takes the round's `steps` on slice `slot` of `worldSize`; returns the
    /// weights at the round's start, its samples and the sum of its losses weighted by samples.
    func run(_ steps: [EpochCursor], from weights: FloatPayload, slot: Int, worldSize: Int) -> (start: [Float], samples: Int, lossSum: Double) {
        weights.copy(into: model.parameters)
        let roundStart = Array(model.parameters)
        var samples = 0, lossSum = 0.0
        for cursor in steps {
            let positions = cursor.positions(slot: slot, worldSize: worldSize)
            guard !positions.isEmpty else { continue }
            if order?.epoch != cursor.epoch {
                order = (cursor.epoch, DataLoader.order(count: trainingSet.count, seed: seed, epoch: cursor.epoch + 1))
            }
            let batch = loader.gather(positions, order: order?.positions)
            let loss = model.computeGradients(on: batch, criterion: criterion)
            optimizer.step(model)
            samples += batch.count
            lossSum += Double(loss) * Double(batch.count)
        }
        return (roundStart, samples, lossSum)
    }
}
