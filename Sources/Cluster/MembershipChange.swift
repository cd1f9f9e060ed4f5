/// A worker joining or leaving training, as the parameter server reports it.
public struct MembershipChange: Sendable, Equatable {
    /// What happened.
    public enum Kind: String, Sendable {
        /// A worker joined (or was taken back after being dropped).
        case joined
        /// A worker was dropped: nothing was heard from it within the heartbeat timeout.
        case dropped
        /// A worker was removed: it sent what no healthy worker sends, and was told so with an error.
        case removed
    }

    /// What happened.
    public var kind: Kind
    /// The worker's rank.
    public var rank: Int
    /// The step from which the change applies (sync: the step the workers compute next).
    public var step: Int
    /// The epoch of that step, counted from 1.
    public var epoch: Int
    /// The number of workers taking part after the change (sync mode counts joiners once they take part).
    public var worldSize: Int
    /// For a dropped worker, how long it had been silent, in seconds.
    public var silentSeconds: Double?

    /// A change with every field given.
    public init(kind: Kind, rank: Int, step: Int, epoch: Int, worldSize: Int, silentSeconds: Double? = nil) {
        self.kind = kind
        self.rank = rank
        self.step = step
        self.epoch = epoch
        self.worldSize = worldSize
        self.silentSeconds = silentSeconds
    }
}
