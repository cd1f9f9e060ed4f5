// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "ActorTrainer",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "trainer", targets: ["trainer"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "Transport", targets: ["Transport"]),
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "Cluster", targets: ["Cluster"]),
        .library(name: "Reports", targets: ["Reports"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.7.0"),
        // The /metrics endpoint only (MetricsEndpoint): the Prometheus text format and a small HTTP server.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
        // Test-only: DeployYAMLTests and ComposeFileTests parse the YAML files under Deploy/.
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ"),
        .systemLibrary(name: "CSodium", path: "Sources/CSodium"),
        .target(name: "Transport"),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ", "Transport"]),
        .target(name: "Engine", dependencies: ["CBLAS"]),
        .target(name: "Datasets", dependencies: ["Engine", "CZlib", "CSodium"]),
        .target(name: "Cluster", dependencies: [
            "Transport", "ZeroMQ", "Engine", "Datasets",
            .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .target(name: "MetricsEndpoint", dependencies: [
            .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "FlyingFox", package: "FlyingFox"),
        ]),
        .target(name: "Reports"),
        .executableTarget(
            name: "trainer",
            dependencies: [
                "Engine", "Datasets", "Cluster", "ZeroMQ", "Reports", "MetricsEndpoint",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // A library user's program: its own model trained by a server and two workers in one process.
        .executableTarget(name: "ClusterExample", dependencies: ["Cluster", "Engine", "Datasets", "ZeroMQ"], path: "Examples/ClusterExample"),
        .executableTarget(name: "ClusterBenchmark", dependencies: ["Cluster", "ZeroMQ", "Engine", "Datasets"], path: "Benchmarks/ClusterBenchmark"),
        // Test helpers every test target shares (the `.blocking` trait); not a product.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "CZlib", "TestSupport"]),
        .testTarget(name: "TrainerTests", dependencies: ["trainer", "ClusterExample", "Cluster", "Engine", "Datasets", "ZeroMQ", "Reports", "TestSupport",
                                                          .product(name: "Yams", package: "Yams")],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ", "Transport", "TestSupport"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "Transport", "ZeroMQ", "Engine", "Datasets", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
