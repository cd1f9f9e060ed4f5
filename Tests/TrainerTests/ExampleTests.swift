import Foundation
import Testing

/// Examples/ClusterExample builds with the package and trains its own model to a real accuracy.
@Suite struct ExampleTests {
    @Test func theClusterExampleTrainsItsModel() async throws {
        let executable = trainerExecutable().deletingLastPathComponent().appendingPathComponent("ClusterExample")
        let run = try await runCommand(executable.path, ["--epochs", "1"], environment: ProcessInfo.processInfo.environment.merging(["OPENBLAS_NUM_THREADS": "1"]) { $1 }, timeout: 300)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        let line = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("test accuracy: ") }, "no accuracy in: \(run.stdout) \(run.stderr)")
        let accuracy = try #require(Double(line.dropFirst("test accuracy: ".count).prefix { $0 != " " }))
        // One epoch of this 784-96-10 model: 91.56 % on MNIST, 83.32 % on Fashion-MNIST (measured).
        let onMNIST = run.stdout.contains("training on mnist")
        print("ExampleTests: \(line) (\(onMNIST ? "MNIST" : "Fashion-MNIST"))")
        #expect(accuracy >= (onMNIST ? 89 : 80), "\(run.stdout)")
    }
}
