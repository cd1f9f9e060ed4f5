/// ClusterBenchmark: what one parameter-server round trip costs, next to libzmq moving the same bytes.
///
/// For the tutorial's MLP (109,386 floats) and CNN (2,122,186 floats), in one process over tcp on
/// 127.0.0.1 (a port the OS picks), alternating REPEATS times after one untimed warm-up of each:
///
/// - server: a real `ParameterServer` (sync mode, world size 1, SGD lr 0.01 momentum 0.9) and one
///   real `Worker` train STEPS steps of batch 1 on synthetic data of the model's input shape; the
///   figure is the worker's `exchangeSeconds / pushes`, the time from sending a gradient to holding
///   the next weights (both transfers, the server's averaging and optimiser step, and the actors,
///   mailboxes and socket-pump threads in between); `server_update_ms` is the server's own share
///   (averaging, optimiser step, queueing the weights: `EpochSummary.updateSeconds / updates`);
/// - raw: a DEALER and a ROUTER, each on its own thread, send one frame of the same 4·P bytes there
///   and back STEPS times through the `ZeroMQ` wrapper (no actors, no protocol, no update), after a
///   few untimed round trips.
///
/// Each repetition gives a mean per step; the output is the median over repetitions with the min and
/// max, as one JSON object on standard output (progress goes to standard error):
///
///     {"roundtrip":[{"model":"mlp","floats":109386,"server_ms":…,"server_min_ms":…,"server_max_ms":…,
///       "server_update_ms":…,"raw_ms":…,"raw_min_ms":…,"raw_max_ms":…,"ratio":…},{…"cnn"…}],
///      "openblas_core":"Haswell"}
///
///     swift build -c release --product ClusterBenchmark --scratch-path .build-bench
///     .build-bench/release/ClusterBenchmark --repeats 5 --steps-mlp 400 --steps-cnn 60
import Engine
import Foundation

let usage = """
    usage: ClusterBenchmark [--steps-mlp N] [--steps-cnn N] [--repeats N]

    Times a parameter server's round trip (gradient out, new weights back) against a raw ZeroMQ
    DEALER/ROUTER round trip of the same bytes, over tcp on 127.0.0.1, for the MLP and the CNN.

      --steps-mlp N   steps (round trips) per repetition for the MLP (default 400)
      --steps-cnn N   steps (round trips) per repetition for the CNN (default 60)
      --repeats N     timed repetitions of each measurement (default 5)
      --help          show this help

    Prints one JSON object on standard output: per model, the median (and min, max) over the
    repetitions of the mean milliseconds per step, server and raw, and their ratio, and the
    server's own update (averaging, optimiser step, queueing the weights) per step.
    """

/// Parses `--name N` and `--name=N` flags into positive integers.
func parseArguments(_ arguments: [String]) throws -> [String: Int] {
    var values = ["--steps-mlp": 400, "--steps-cnn": 60, "--repeats": 5]
    var index = 0
    while index < arguments.count {
        let argument = arguments[index]
        if argument == "--help" || argument == "-h" {
            print(usage)
            exit(0)
        }
        var name = argument, value: String?
        if let equals = argument.firstIndex(of: "=") {
            name = String(argument[..<equals])
            value = String(argument[argument.index(after: equals)...])
        } else if index + 1 < arguments.count {
            value = arguments[index + 1]
            index += 1
        }
        guard values[name] != nil else { throw BenchmarkError("unknown option \(argument)\n\n\(usage)") }
        guard let value, let number = Int(value), number > 0 else {
            throw BenchmarkError("\(name) needs a positive integer")
        }
        values[name] = number
        index += 1
    }
    return values
}

/// The median of `values` (the mean of the middle two for an even count).
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// Writes a progress line to standard error.
func progress(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Milliseconds with four decimals, as a JSON number.
func milliseconds(_ seconds: Double) -> String {
    String(format: "%.4f", seconds * 1e3)
}

do {
    let options = try parseArguments(Array(CommandLine.arguments.dropFirst()))
    let repeats = options["--repeats"]!
    BLAS.setThreadCount(1)
    var rows: [String] = []
    for (model, steps) in [(BenchmarkModel.mlp, options["--steps-mlp"]!), (.cnn, options["--steps-cnn"]!)] {
        let floats = model.make().parameterCount
        progress("\(model.name): \(floats) floats, \(steps) steps × \(repeats) repetitions (after one warm-up of each)")
        _ = try await RoundTrips.server(model, steps: min(steps, 20))
        _ = try await RoundTrips.raw(floats: floats, steps: min(steps, 20))
        var server: [Double] = [], update: [Double] = [], raw: [Double] = []
        for repetition in 1...repeats {
            let measured = try await RoundTrips.server(model, steps: steps)
            server.append(measured.roundTrip)
            update.append(measured.update)
            raw.append(try await RoundTrips.raw(floats: floats, steps: steps))
            progress("  repetition \(repetition): server \(milliseconds(server.last!)) ms (update \(milliseconds(update.last!)) ms), "
                     + "raw \(milliseconds(raw.last!)) ms per round trip")
        }
        rows.append("{\"model\":\"\(model.name)\",\"floats\":\(floats),"
                    + "\"server_ms\":\(milliseconds(median(server))),\"server_min_ms\":\(milliseconds(server.min()!)),"
                    + "\"server_max_ms\":\(milliseconds(server.max()!)),\"server_update_ms\":\(milliseconds(median(update))),"
                    + "\"raw_ms\":\(milliseconds(median(raw))),\"raw_min_ms\":\(milliseconds(raw.min()!)),"
                    + "\"raw_max_ms\":\(milliseconds(raw.max()!)),"
                    + "\"ratio\":\(String(format: "%.3f", median(server) / median(raw)))}")
    }
    print("{\"roundtrip\":[\(rows.joined(separator: ","))],\"openblas_core\":\"\(BLAS.coreName)\"}")
} catch {
    progress("ClusterBenchmark: \(error)")
    exit(1)
}
