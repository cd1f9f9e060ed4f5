import Foundation
import Testing

/// `trainer local` with a thousand workers under an address-space limit: each worker's thread takes
/// a bounded stack, so they fit; when they cannot, the run says which worker could not start and why,
/// at once, instead of waiting for a thread that never ran. Their thousands of threads starve any test
/// running beside them (niced or not), so they run alone (`RunAlone`).
@Suite(.serialized, .enabled(if: RunAlone.isThisRun, RunAlone.skipped)) struct ManyWorkersTests {
    @Test(.timeLimit(.minutes(4)))
    func aThousandWorkersTrainUnderAnEightGigabyteAddressSpaceLimit() async throws {
        let run = try await RunningTrainer(["local", "--workers", "1000", "--dataset", "xor", "--batch-size", "2", "--epochs", "2"],
                                           launcher: ["/usr/bin/prlimit", "--as=\(8 << 30)", "--"]).finish(timeout: 180)
        #expect(run.exitedNormally && run.status == 0, "\(run.stderr.suffix(2000))")
        #expect(run.stdout.contains("Worker 999: 2 steps"), "\(run.stdout.suffix(2000))")
    }

    @Test(.timeLimit(.minutes(2)))
    func workersBeyondTheLimitAreAClearErrorNotAHang() async throws {
        let run = try await RunningTrainer(["local", "--workers", "3000", "--dataset", "xor", "--batch-size", "2", "--epochs", "2"],
                                           launcher: ["/usr/bin/prlimit", "--as=\(2 << 30)", "--"]).finish(timeout: 60)
        #expect(run.exitedNormally && run.status != 0)
        #expect(run.stderr.contains("cannot start worker "), "\(run.stderr)")
        #expect(run.stderr.contains("of 3000: could not start the thread"), "\(run.stderr)")
        #expect(run.stderr.contains("ulimit -v"), "the error says which limits to look at: \(run.stderr)")
    }
}
