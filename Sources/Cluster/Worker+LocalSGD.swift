import Datasets
import Engine
import Foundation

/// The worker's loop in local-SGD mode: rounds of local optimiser steps, one push of the weights' change per round.
extension Worker {
    /// Trains in local-SGD rounds from `start` until stop, adding to `statistics`: at each round the
    /// worker takes the round's steps (up to `configuration.syncEvery`, fewer at an epoch's end) on its
    /// slice of each step's global batch with the inner optimiser (`configuration.optimizer`, whose
    /// state it keeps from round to round), then pushes weights at the round's start minus weights now,
    /// with the round's samples and mean loss, and waits for the server's next weights. Between the
    /// local steps it sends a heartbeat when one is due, so a long round does not look like silence.
    func trainLocally(_ replica: Replica, from start: Assignment, configuration: TrainingConfiguration,
                      statistics: inout WorkerStatistics) async throws -> WorkerStatistics {
        let model = replica.model, trainingSet = replica.trainingSet
        let criterion = Criterion(replica.objective)
        let loader = DataLoader(trainingSet, batchSize: configuration.batchSizePerWorker, shuffle: true, seed: configuration.seed)
        let optimizer = configuration.optimizer.makeOptimizer(parameterCount: model.parameterCount)
        let stepsPerRound = configuration.syncEvery ?? 1
        var order: (epoch: Int, positions: [Int32])?
        var assignment = start
        while true {
            let computeStart = ContinuousClock.now
            statistics.rank = assignment.rank
            assignment.weights.copy(into: model.parameters)
            let roundStart = Array(model.parameters)
            let steps = assignment.cursor.roundSteps(stepsPerRound, worldSize: assignment.worldSize)
            var samples = 0, lossSum = 0.0
            for cursor in steps {
                // A round takes H steps' time: the server must still hear from this worker meanwhile.
                client.heartbeatIfDue(sender: UInt32(assignment.rank), fingerprint: model.fingerprint)
                let positions = cursor.positions(slot: assignment.slot, worldSize: assignment.worldSize)
                guard !positions.isEmpty else { continue }
                if order?.epoch != cursor.epoch {
                    order = (cursor.epoch, DataLoader.order(count: trainingSet.count, seed: configuration.seed, epoch: cursor.epoch + 1))
                }
                let batch = loader.gather(positions, order: order?.positions)
                let loss = model.computeGradients(on: batch, criterion: criterion)
                optimizer.step(model)
                samples += batch.count
                lossSum += Double(loss) * Double(batch.count)
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
