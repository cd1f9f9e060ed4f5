/// How the flat parameter buffer is split over S server shards: contiguous ranges balanced by bytes
/// (every value is a float32, so by count), shard 0 first; the first `count % S` shards hold one
/// value more.
public enum ShardLayout {
    /// The range of the flat parameters that shard `index` of `shards` owns, for a model of `count` values.
    public static func range(of index: Int, shards: Int, count: Int) -> Range<Int> {
        precondition(shards >= 1 && (0..<shards).contains(index), "shard \(index) of \(shards)")
        let (base, extra) = count.quotientAndRemainder(dividingBy: shards)
        let lower = index * base + min(index, extra)
        return lower..<lower + base + (index < extra ? 1 : 0)
    }

    /// Every shard's range, shard 0 first.
    public static func ranges(shards: Int, count: Int) -> [Range<Int>] {
        (0..<shards).map { range(of: $0, shards: shards, count: count) }
    }
}
