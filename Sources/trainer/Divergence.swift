/// The divergence check: an epoch whose training or test loss is NaN or infinite ends the run,
/// since nothing trained from such weights can recover, and the checkpoint keeps the last good epoch.
enum Divergence {
    /// The reason to stop after `epoch` (counted from 1), or nil when both losses are finite.
    static func check(epoch: Int, trainLoss: Double, testLoss: Double, checkpoint: String?) -> String? {
        guard !(trainLoss.isFinite && testLoss.isFinite) else { return nil }
        let kept = checkpoint.map { epoch > 1 ? "; \($0) keeps the weights of epoch \(epoch - 1)" : "; \($0) was not written" } ?? ""
        return "training diverged in epoch \(epoch): the training loss is \(trainLoss), the test loss \(testLoss)\(kept); "
            + "try a smaller --lr"
    }
}
