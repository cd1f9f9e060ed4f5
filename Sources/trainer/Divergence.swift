/// The divergence check: an epoch whose training or test loss is NaN or infinite, or whose training
/// loss has grown to more than `explosionFactor` times the first epoch's, ends the run, since such
/// weights do not recover; the checkpoint keeps the last good epoch.
enum Divergence {
    /// How many times the first epoch's training loss a later epoch's may reach before the run counts as diverged.
    static let explosionFactor = 10.0

    /// The reason to stop after `epoch` (counted from 1), or nil when both losses are finite and the
    /// training loss is within `explosionFactor` of `firstTrainLoss` (the run's first epoch's, when known).
    static func check(epoch: Int, trainLoss: Double, testLoss: Double, firstTrainLoss: Double?, checkpoint: String?) -> String? {
        let kept = checkpoint.map { epoch > 1 ? "; \($0) keeps the weights of epoch \(epoch - 1)" : "; \($0) was not written" } ?? ""
        if !(trainLoss.isFinite && testLoss.isFinite) {
            return "training diverged in epoch \(epoch): the training loss is \(trainLoss), the test loss \(testLoss)\(kept); "
                + "try a smaller --lr"
        }
        if let first = firstTrainLoss, first.isFinite, first > 0, trainLoss > explosionFactor * first {
            return "training diverged in epoch \(epoch): the training loss \(trainLoss) is more than \(Int(explosionFactor)) times "
                + "the first epoch's (\(first))\(kept); try a smaller --lr"
        }
        return nil
    }
}
