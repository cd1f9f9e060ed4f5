/// A point in time a wait must end by, for retrying interrupted waits without extending them.
struct Deadline {
    // nil: never.
    private let end: ContinuousClock.Instant?

    /// `milliseconds` from now; negative means never.
    init(milliseconds: Int) {
        end = milliseconds < 0 ? nil : .now + .milliseconds(milliseconds)
    }

    /// Whole milliseconds left, rounded up: -1 for never, 0 once passed (the zmq_poll convention).
    var remainingMilliseconds: Int {
        guard let end else { return -1 }
        let remaining = end - .now
        guard remaining > .zero else { return 0 }
        let (seconds, attoseconds) = remaining.components
        let wholeMilliseconds = min(seconds, 1 << 40) * 1000 + attoseconds / 1_000_000_000_000_000
        let partial = attoseconds % 1_000_000_000_000_000 > 0 ? 1 : 0
        return Int(wholeMilliseconds) + partial
    }
}
