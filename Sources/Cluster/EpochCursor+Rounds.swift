import Datasets

/// Local-SGD rounds: up to H steps of the same cut of the global batch, ending early at an epoch's end.
extension EpochCursor {
    /// The cursors of the steps of the round of at most `steps` steps of `worldSize` workers that starts
    /// here: the round stops after the last step of its epoch.
    func roundSteps(_ steps: Int, worldSize: Int) -> [EpochCursor] {
        var cursors: [EpochCursor] = []
        var cursor = self
        for _ in 0..<steps {
            cursors.append(cursor)
            if cursor.isLastStepOfEpoch(worldSize: worldSize) { break }
            cursor.advance(worldSize: worldSize)
        }
        return cursors
    }

    /// The samples the worker in `slot` of `worldSize` takes in the round of at most `steps` steps from here.
    func roundSampleCount(_ steps: Int, slot: Int, worldSize: Int) -> Int {
        roundSteps(steps, worldSize: worldSize).reduce(0) { $0 + $1.positions(slot: slot, worldSize: worldSize).count }
    }

    /// Moves past the round of at most `steps` steps of `worldSize` workers that starts here.
    mutating func advance(round steps: Int, worldSize: Int) {
        for _ in 0..<steps {
            let last = isLastStepOfEpoch(worldSize: worldSize)
            advance(worldSize: worldSize)
            if last { break }
        }
    }
}
