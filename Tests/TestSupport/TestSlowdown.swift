import Foundation

/// How many times longer than usual the tests' own bounds on waiting for a process are:
/// `TRAINER_TEST_SLOWDOWN` (a number, at least 1; default 1), which `scripts/sanitize.sh` sets for a
/// sanitizer's slowdown. The bounds of the code under test (heartbeat, step and join timeouts) are
/// never scaled: liveness must hold on a slowed host by itself.
public enum TestSlowdown {
    /// The factor; a value that is not a number of at least 1 stops the test run, naming the variable.
    public static let factor: Double = {
        guard let text = ProcessInfo.processInfo.environment["TRAINER_TEST_SLOWDOWN"] else { return 1 }
        guard let value = Double(text), value >= 1, value.isFinite else {
            fatalError("TRAINER_TEST_SLOWDOWN must be a number of at least 1, not \"\(text)\"")
        }
        return value
    }()

    /// `seconds` times the factor.
    public static func scaled(_ seconds: Double) -> Double { seconds * factor }
}
