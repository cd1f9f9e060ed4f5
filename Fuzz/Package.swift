// swift-tools-version: 6.0
// Coverage-guided fuzzing of every parser that reads outside input, with libFuzzer. Kept out of the
// main package and CI: build and run it with Fuzz/run.sh SECONDS.
import PackageDescription

/// One libFuzzer executable per parser: its name and the parent package's products it needs.
let fuzzTargets: [(name: String, products: [String])] = [
    ("FuzzIDX", ["Datasets"]), ("FuzzCIFAR", ["Datasets"]), ("FuzzSafetensors", ["Engine"]),
    ("FuzzServerState", ["Cluster"]), ("FuzzWire", ["Cluster"]), ("FuzzChecksumList", ["Datasets"]),
    ("FuzzTar", ["Datasets"]), ("FuzzMetrics", ["Reports"]),
]

let package = Package(
    name: "ActorTrainerFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "ActorTrainer", path: "..")],
    targets: [
        .target(name: "CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"]),
    ] + fuzzTargets.map { target in
        .executableTarget(name: target.name,
                          dependencies: ["FuzzSupport"] + target.products.map { .product(name: $0, package: "ActorTrainer") })
    },
    swiftLanguageModes: [.v6]
)
