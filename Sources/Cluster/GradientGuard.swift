/// How large a pushed gradient may be before the server drops it as an outlier.
public enum GradientBound: Sendable, Equatable, CustomStringConvertible {
    /// At most `factor` times the recent typical norm (see `GradientGuard`).
    case relative(factor: Double)
    /// At most this L2 norm.
    case fixed(Double)
    /// No bound: every finite gradient is applied.
    case off

    /// The default: a thousand times the recent typical norm. Honest gradients of small batches
    /// spread widely (XOR with batch 2: beyond 10× the lower median in hundreds of pushes of a run), so
    /// the default catches absurd gradients only; a tighter factor suits large batches.
    public static let standard = GradientBound.relative(factor: 1000)

    /// How `--max-gradient-norm` and logs name the bound.
    public var description: String {
        switch self {
        case .relative(let factor): "\(factor)× the recent median norm"
        case .fixed(let norm): "a norm of \(norm)"
        case .off: "off"
        }
    }
}

/// Decides which pushed gradients are too large to apply, by their L2 norm.
///
/// With a relative bound the limit is `factor` × the lower median of the norms of the last
/// `window` gradients applied (zero norms left out: they carry nothing). Until `warmUp` of them are
/// known, a push is compared with the others: the limit is `factor` × the smallest norm seen from
/// any other rank (applied or not, in this update or before) or applied at all, so a worker sending
/// huge gradients from the first step is outvoted by any honest one. While nothing else is known
/// (the first pushes of an async run, or a run with one worker), the limit is `factor` × ‖weights‖ /
/// learning rate (`factor` times the gradient whose plain SGD step would move the weights by their own
/// length), for at most `warmUp` rejections, after which a lone worker is trusted. Only gradients
/// applied enter the history, so an outlier never raises the limit, and the lower median stays
/// honest while fewer than half of the applied gradients are an attacker's.
struct GradientGuard {
    let bound: GradientBound
    /// The number of recent norms the median is taken over.
    static let window = 64
    /// The norms needed before the median is used.
    static let warmUp = 8
    /// The norms of the last gradients applied (non-zero), oldest first.
    private var history: [Double] = []
    /// While warming up: the smallest non-zero norm each rank has pushed, applied or not.
    private var smallestByRank: [Int: Double] = [:]
    /// The pushes rejected by the weights' scale alone.
    private var scaleRejections = 0

    init(bound: GradientBound) { self.bound = bound }

    /// Whether `limits(for:scale:)` needs the scale (only while warming up).
    var isWarmingUp: Bool {
        guard case .relative = bound else { return false }
        return history.count < Self.warmUp
    }

    /// The largest norm allowed for each of an update's pushes, given as their ranks and norms (zero
    /// for an empty push), or nil when any is; `scale` is ‖weights‖ / learning rate (needed while
    /// warming up). Second: whether a limit comes from the scale alone (see `record`).
    func limits(for pushes: [(rank: Int, norm: Double)], scale: Double? = nil) -> [(limit: Double?, byScale: Bool)] {
        switch bound {
        case .off: return pushes.map { _ in (nil, false) }
        case .fixed(let norm): return pushes.map { _ in (norm, false) }
        case .relative(let factor):
            if history.count >= Self.warmUp {
                let sorted = history.sorted()
                return pushes.map { _ in (factor * sorted[(sorted.count - 1) / 2], false) }
            }
            return pushes.map { push in
                let others = pushes.filter { $0.rank != push.rank && $0.norm > 0 && $0.norm.isFinite }.map(\.norm)
                    + smallestByRank.filter { $0.key != push.rank }.map(\.value)
                if let known = (others + history).min() { return (factor * known, false) }
                if scaleRejections < Self.warmUp, let scale, scale > 0, scale.isFinite { return (factor * scale, true) }
                return (nil, false)
            }
        }
    }

    /// Records an update: the ranks and norms of its pushes, the norms of the gradients applied, and
    /// how many pushes a limit from the scale alone rejected.
    mutating func record(checked: [(rank: Int, norm: Double)], applied: [Double], rejectedByScale: Int) {
        guard case .relative = bound else { return }
        if history.count < Self.warmUp {
            for push in checked where push.norm > 0 && push.norm.isFinite {
                smallestByRank[push.rank] = min(smallestByRank[push.rank] ?? push.norm, push.norm)
            }
        } else {
            smallestByRank = [:]
        }
        scaleRejections += rejectedByScale
        history += applied.filter { $0 > 0 && $0.isFinite }
        if history.count > Self.window { history.removeFirst(history.count - Self.window) }
    }
}
