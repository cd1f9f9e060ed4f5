import CLibFuzzer
import Foundation

/// Runs libFuzzer on one parser: `run` hands the process's arguments to libFuzzer's driver and
/// calls `body` with each input it generates.
public enum FuzzDriver {
    nonisolated(unsafe) private static var body: (UnsafeBufferPointer<UInt8>) -> Void = { _ in }

    /// Fuzzes `body` with the command line's libFuzzer flags and corpus folders; returns its exit status.
    public static func run(_ body: @escaping (UnsafeBufferPointer<UInt8>) -> Void) -> Int32 {
        Self.body = body
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            FuzzDriver.body(UnsafeBufferPointer(start: data, count: size))
            return 0
        }
    }
}
