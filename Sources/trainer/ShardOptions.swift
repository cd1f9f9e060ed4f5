import ArgumentParser
import Cluster

/// The flags that make `trainer server` one shard of several: the addresses every shard is reached
/// at, and which of them this one is.
struct ShardOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Split the parameters over several servers: every shard's address as the workers reach it, in order, comma-separated (for example tcp://ps1:5555,tcp://ps2:5555). Each shard owns a contiguous, equal share of the flat parameters and runs the optimiser on it; workers connect to shard 1 only and learn the others from it. Every shard is started with the same list, the same training flags and --workers, and its own --shard; with CURVE, every shard has the same key pair.", valueName: "addresses"),
            transform: { $0.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) } })
    var shards: [String] = []

    @Option(parsing: .unconditional, help: "With --shards: which of the listed addresses this server is, from 1. Shard 1 gives the workers their places, evaluates each epoch and writes --metrics, --checkpoint and --plot; the others hold their share of the weights and send it to shard 1 at each epoch's end.")
    var shard: Int?

    func validate() throws {
        // --shard alone is checked by the command: with --resume the state file holds the addresses.
        if shards.isEmpty { return }
        if !(2...TrainingConfiguration.maximumShards).contains(shards.count) {
            throw ValidationError("--shards must list 2…\(TrainingConfiguration.maximumShards) addresses (got \(shards.count)); one server needs no --shards")
        }
        for address in shards where address.isEmpty || address.contains("*") || !address.contains("://") {
            throw ValidationError("--shards: '\(address)' is not an address workers can connect to (for example tcp://ps1:5555; a wildcard such as tcp://*:5555 goes in --bind)")
        }
        if Set(shards).count != shards.count { throw ValidationError("--shards lists an address twice: \(shards.joined(separator: ","))") }
        guard let shard else { throw ValidationError("--shards needs --shard, which of the \(shards.count) addresses this server is (1…\(shards.count))") }
        if !(1...shards.count).contains(shard) { throw ValidationError("--shard must lie in 1…\(shards.count), the addresses --shards lists") }
    }

    /// This server's index among the shards, from 0 (0 without --shards).
    var index: Int { (shard ?? 1) - 1 }

    /// Whether this server is a shard other than the first.
    var isFollower: Bool { index > 0 }
}
