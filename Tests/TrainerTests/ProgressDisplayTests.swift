import Cluster
import Foundation
import Testing
import TestSupport
@testable import trainer

#if canImport(Glibc)
import Glibc
#endif

/// Text written to a fake terminal, kept for inspection.
final class CapturedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var written: [String] = []

    /// A terminal (or not) `columns` wide that records every write.
    func output(isTerminal: Bool = true, columns: Int = 80) -> TerminalOutput {
        TerminalOutput(isTerminal: isTerminal, columns: columns) { text in self.lock.withLock { self.written.append(text) } }
    }

    var writes: [String] { lock.withLock { written } }
    var text: String { writes.joined() }
}

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    var now = 0.0
}

/// The progress bar and the worker board: their text for given values, their throttling, and
/// `trainer train` on a real pseudo-terminal and on a pipe.
@Suite(.serialized) struct ProgressDisplayTests {
    func progress(_ batch: Int, of batches: Int = 938, seconds: Double = 2, loss: Double = 0.6123, epoch: Int = 3) -> BatchProgress {
        BatchProgress(epoch: epoch, batch: batch, batches: batches, samples: 64 * batch, meanLoss: loss, seconds: seconds)
    }

    @Test func barLineHoldsEveryFigure() {
        // 412 of 938 batches (26368 samples) in 2 s: 13184 samples/s, 2 / 412 × 526 = 2.55 s left.
        let line = ProgressBar.line(progress(412), epochs: 10, columns: 80)
        #expect(line == "Epoch  3/10 [###.....] 412/938    13184 samples/s  loss 0.6123     ETA     0:03")
    }

    @Test func barLineKeepsOneWidthAndFitsTheTerminal() {
        for columns in [40, 80, 132] {
            var lengths = Set<Int>()
            for batch in [1, 9, 10, 99, 100, 412, 937, 938] {
                for (seconds, loss) in [(0.001, 2.302), (1.0, 0.0042), (55.0, 0.5), (900.0, 12.25)] {
                    let line = ProgressBar.line(progress(batch, seconds: seconds, loss: loss, epoch: batch % 10 + 1), epochs: 10, columns: columns)
                    lengths.insert(line.count)
                    #expect(line.count < columns, "\(line.count) characters on \(columns) columns: \(line)")
                    #expect(!line.contains("\r") && !line.contains("\n") && !line.contains("\u{1B}"))
                }
            }
            #expect(lengths.count == 1, "lengths \(lengths) on \(columns) columns")
        }
        // The bar widens with the terminal, up to 30 characters, and fills in proportion.
        let wide = ProgressBar.line(progress(469), epochs: 10, columns: 200)
        #expect(wide.contains("[" + String(repeating: "#", count: 15) + String(repeating: ".", count: 15) + "]"))
        let done = ProgressBar.line(progress(938), epochs: 10, columns: 200)
        #expect(done.contains("[" + String(repeating: "#", count: 30) + "]") && done.contains("ETA     0:00"))
    }

    @Test func timeLeftAndLossAreReadable() {
        #expect(ProgressBar.timeLeft(progress(0, seconds: 0)) == "--:--")
        #expect(ProgressBar.timeLeft(progress(1, of: 2, seconds: 75)) == "1:15")
        #expect(ProgressBar.timeLeft(progress(1, of: 3, seconds: 3723)) == "2:04:06")
        #expect(ProgressBar.lossText(0.61234) == "0.6123")
        #expect(ProgressBar.lossText(0.0012346) == "1.235e-03")
        #expect(ProgressBar.lossText(.nan) == "nan")
        #expect(ProgressBar.lossText(123_456) == "1.235e+05")
    }

    @Test func barRedrawsAtMostTenTimesASecondAndLogsAboveItself() {
        let captured = CapturedOutput(), clock = ManualClock()
        let bar = ProgressBar(epochs: 2, output: captured.output(), clock: { clock.now })
        #expect(bar.isDrawing)
        // 1000 batches over 1 s of the clock: at most 11 drawings (at 0, 0.1, …, 1.0).
        for batch in 1...1000 {
            clock.now = Double(batch) / 1000
            bar.update(progress(batch, of: 1000, epoch: 1))
        }
        let drawings = captured.writes.filter { $0.hasPrefix("\rEpoch 1/2 [") }
        #expect(drawings.count >= 9 && drawings.count <= 11, "\(drawings.count) drawings")
        // A log line: the bar is wiped, the line printed whole, the bar drawn again below it.
        let before = captured.writes.count
        bar.log("[Epoch 1, Batch 100] loss: 1.248")
        let logged = captured.writes[before...]
        #expect(logged.count == 3)
        #expect(logged.first?.hasPrefix("\r   ") == true && logged.first?.hasSuffix(" \r") == true)
        #expect(logged.dropFirst().first == "[Epoch 1, Batch 100] loss: 1.248\n")
        #expect(logged.last?.hasPrefix("\rEpoch 1/2 [") == true)
        // Clearing leaves an empty line: spaces over the bar, then back to its start.
        bar.clear()
        #expect(captured.writes.last?.hasPrefix("\r ") == true && captured.writes.last?.hasSuffix("\r") == true)
        bar.clear()
        #expect(captured.writes.count == before + 4, "a second clear writes nothing")
    }

    @Test func barDrawsNothingOffATerminalOrWhenDisabled() {
        for (terminal, enabled) in [(false, true), (true, false)] {
            let captured = CapturedOutput()
            let bar = ProgressBar(epochs: 1, enabled: enabled, output: captured.output(isTerminal: terminal))
            #expect(!bar.isDrawing)
            bar.update(progress(1))
            bar.clear()
            #expect(captured.writes.isEmpty)
        }
    }

    let workers = [
        WorkerStatusBoard.Worker(rank: 0, step: 4690, samplesPerSecond: 115_000.4, secondsSinceHeartbeat: 0.24, megabytesPerSecond: 12.34),
        WorkerStatusBoard.Worker(rank: 1, step: 4689, samplesPerSecond: 114_800, secondsSinceHeartbeat: 12.5),
        WorkerStatusBoard.Worker(rank: 12, step: 7, samplesPerSecond: 0, secondsSinceHeartbeat: nil),
    ]

    @Test func boardLinesHaveFixedColumns() {
        let lines = WorkerStatusBoard.lines(workers)
        #expect(lines == [
            "rank      step    samples/s     MB/s    heartbeat",
            "   0      4690       115000     12.3    0.2 s ago",
            "   1      4689       114800      0.0   12.5 s ago",
            "  12         7            0      0.0        never",
        ])
        #expect(WorkerStatusBoard.lines(workers, columns: 20).allSatisfy { $0.count == 19 })
        #expect(WorkerStatusBoard.lines(workers, stepHeader: "round").first == "rank     round    samples/s     MB/s    heartbeat",
                "local SGD counts its workers' rounds, not steps")
        #expect(WorkerStatusBoard.heartbeat(4321) == " 4321 s ago")
    }

    @Test func boardRedrawsInPlaceWithTheCursorUp() {
        let captured = CapturedOutput(), clock = ManualClock()
        let board = WorkerStatusBoard(output: captured.output(), clock: { clock.now })
        board.update(workers)
        #expect(captured.text == "\r\u{1B}[J" + WorkerStatusBoard.lines(workers).map { $0 + "\n" }.joined())
        // Too soon: nothing; later: up over the four lines drawn, then the new block (a worker gone).
        clock.now = 0.05
        board.update(workers)
        #expect(captured.writes.count == 1)
        clock.now = 0.2
        board.update(Array(workers.prefix(2)))
        #expect(captured.writes.count == 2)
        #expect(captured.writes[1] == "\u{1B}[4A\r\u{1B}[J" + WorkerStatusBoard.lines(Array(workers.prefix(2))).map { $0 + "\n" }.joined())
        board.clear()
        #expect(captured.writes.last == "\u{1B}[3A\r\u{1B}[J")

        let plain = CapturedOutput()
        let offTerminal = WorkerStatusBoard(output: plain.output(isTerminal: false))
        offTerminal.update(workers)
        offTerminal.clear()
        #expect(plain.writes.isEmpty && !offTerminal.isDrawing)
    }

    /// A status the server shows while an epoch or log line is printed above the display draws
    /// nothing: drawn between the clearing and the line, the bar (which ends without a newline) would
    /// have the line glued to it, as a CI run saw ("Epoch 1/1 [###…] …Epoch 1/1: train loss …").
    @Test func aStatusShownWhileALineIsPrintedAboveDrawsNothing() throws {
        let captured = CapturedOutput()
        let terminal = captured.output()
        let display = try #require(ServerDisplay(epochs: 1, sampleCount: 100, batchSizePerWorker: 10, enabled: true, output: terminal))
        let status = ServerStatus(epoch: 1, epochs: 1, epochProgress: 0.5, step: 5, worldSize: 2, samplesPerSecond: 1000, loss: 0.5,
                                  workers: [WorkerStatus(rank: 0, step: 5, samplesPerSecond: 500, secondsSinceHeard: 0.1),
                                            WorkerStatus(rank: 1, step: 5, samplesPerSecond: 500, secondsSinceHeard: 0.2)])
        display.show(status)
        #expect(captured.text.contains("\rEpoch 1/1 ["), "the bar is drawn: \(captured.text.debugDescription)")
        let before = captured.writes.count
        let line = "Epoch 1/1: train loss 0.5\n"
        display.printingAbove {
            display.show(status)
            terminal.write(line)
        }
        let during = Array(captured.writes[before...])
        #expect(during.last == line, "\(during)")
        let clearing = during.dropLast().joined()
        #expect(!clearing.isEmpty && !clearing.contains("Epoch 1/1 [") && !clearing.contains("rank "),
                "the display must be cleared and not drawn again before the line: \(clearing.debugDescription)")
        let after = captured.writes.count
        display.show(status)
        let redrawn = captured.writes[after...].joined()
        #expect(redrawn.contains("rank ") && redrawn.contains("\rEpoch 1/1 ["), "the next status draws both again: \(redrawn.debugDescription)")
    }

    // MARK: The real command on a real terminal

    /// Runs the built `trainer` with its standard output and error on a new pseudo-terminal `columns`
    /// wide, reading everything it writes, bounded by `timeout` seconds (times `TestSlowdown.factor`).
    func runOnTerminal(_ arguments: [String], columns: UInt16 = 100, timeout: Double = 120) async throws -> (status: Int32, output: String) {
        var master: Int32 = -1, slave: Int32 = -1
        var size = winsize(ws_row: 40, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        guard openpty(&master, &slave, nil, nil, &size) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(master) }
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        let process = ChildProcess()
        process.executableURL = trainerExecutable()
        process.arguments = arguments
        let terminal = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        process.standardOutput = terminal
        process.standardError = terminal
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            close(slave)
            throw error
        }
        close(slave)
        var bytes: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(TestSlowdown.scaled(timeout))
        while Date() < deadline {
            let count = read(master, &buffer, buffer.count)
            let failure = errno
            if count > 0 {
                bytes += buffer[0..<count]
            } else if (count == 0 || (failure != EAGAIN && failure != EINTR)) && !process.isRunning {
                break  // EIO: every copy of the terminal's other side is closed, the process has gone.
            } else {
                // Nothing yet, or interrupted (the test process has many children, and their SIGCHLD).
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw TimeoutError(arguments: arguments, seconds: timeout)
        }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: bytes, as: UTF8.self))
    }

    @Test func trainDrawsTheBarOnATerminal() async throws {
        let run = try await runOnTerminal(["train", "--model", "mlp", "--dataset", "xor", "--epochs", "20"])
        #expect(run.status == 0, "\(run.output)")
        // The terminal turns "\n" into "\r\n"; a bare "\r" is the bar's.
        let bare = run.output.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(bare.contains("\rEpoch  1/20 ["), "\(run.output.debugDescription)")
        #expect(bare.contains(" samples/s  loss ") && bare.contains("ETA "))
        // What the terminal shows at the end: each line's text after its last carriage return. The bar
        // is wiped before each epoch line, which reads as it does off a terminal.
        let lines = bare.split(separator: "\n").map { $0.split(separator: "\r", omittingEmptySubsequences: false).last.map(String.init) ?? "" }
        #expect(lines.filter { $0.hasPrefix("Epoch ") && $0.contains(": train loss ") }.count == 20)
        #expect(lines.contains { $0.hasPrefix("Accuracy of the network on the 4 test samples: ") })
        #expect(!lines.contains { $0.contains("samples/s  loss") }, "a bar left on screen at the end")
    }

    /// `trainer local` on a terminal: the workers' block (rank, step, rate, heartbeat) and the epoch's bar
    /// while it trains, wiped before each epoch line; with a pipe, neither.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist"),
                   "needs Fashion-MNIST: run Deploy/setup.sh (apt-get install dataset-fashion-mnist)"))
    func localDrawsTheWorkersAndTheBarOnATerminal() async throws {
        // Batch 8 makes 3,750 steps, a few seconds: long enough for several statuses (every 0.25 s).
        let arguments = ["local", "--workers", "2", "--dataset", "fashion-mnist", "--data-dir", "/usr/share/datasets",
                         "--epochs", "1", "--batch-size", "8"]
        let run = try await runOnTerminal(arguments)
        #expect(run.status == 0, "\(run.output)")
        let bare = run.output.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(bare.contains("rank      step    samples/s     MB/s    heartbeat"), "\(run.output.debugDescription)")
        #expect(bare.contains("\rEpoch 1/1 [") && bare.contains(" samples/s  loss "), "\(run.output.debugDescription)")
        #expect(bare.contains("\u{1B}[3A"), "the block is redrawn in place over its 3 lines")
        let screen = bare.split(separator: "\n").map { $0.split(separator: "\r", omittingEmptySubsequences: false).last.map(String.init) ?? "" }
        #expect(screen.contains { $0.hasPrefix("Epoch 1/1: train loss ") })
        let piped = try await runTrainer(arguments + ["--no-progress"])
        #expect(piped.status == 0 && !piped.stdout.contains("\r") && !piped.stdout.contains("heartbeat"), "\(piped.stdout)")
    }

    @Test func noProgressDrawsNothingOnATerminal() async throws {
        let run = try await runOnTerminal(["train", "--model", "mlp", "--dataset", "xor", "--epochs", "20", "--no-progress"])
        #expect(run.status == 0, "\(run.output)")
        #expect(!run.output.replacingOccurrences(of: "\r\n", with: "\n").contains("\r"))
        #expect(run.output.contains("Epoch 20/20: train loss "))
    }

    @Test func plainOutputHasNoCarriageReturns() async throws {
        let run = try await runTrainer(["train", "--model", "mlp", "--dataset", "xor", "--epochs", "20"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stdout.contains("\r") && !run.stdout.contains("\u{1B}") && !run.stdout.contains("samples/s  loss"))
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 1 + 20 + 2, "banner, 20 epoch lines, two closing lines: \(lines)")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist"),
                   "needs Fashion-MNIST: run Deploy/setup.sh (apt-get install dataset-fashion-mnist)"))
    func batchLogLinesStayWholeAboveTheBar() async throws {
        let run = try await runOnTerminal(["train", "--dataset", "fashion-mnist", "--data-dir", "/usr/share/datasets", "--epochs", "1"])
        #expect(run.status == 0, "\(run.output)")
        let bare = run.output.replacingOccurrences(of: "\r\n", with: "\n")
        // What the terminal shows at the end: each line's text after its last carriage return.
        let screen = bare.split(separator: "\n").map { $0.split(separator: "\r", omittingEmptySubsequences: false).last.map(String.init) ?? "" }
        for batch in stride(from: 100, through: 900, by: 100) {
            #expect(screen.contains { $0.hasPrefix("[Epoch 1, Batch \(batch)] loss: ") }, "batch \(batch)")
        }
        #expect(screen.contains { $0.hasPrefix("Epoch 1/1: train loss ") })
        let drawings = bare.components(separatedBy: "\rEpoch 1/1 [").count - 1
        #expect(drawings >= 2, "the bar was drawn \(drawings) times")
        // Bars are never wider than the terminal's 100 columns.
        for piece in bare.split(separator: "\r") where piece.hasPrefix("Epoch 1/1 [") {
            #expect(piece.prefix { $0 != "\n" }.count < 100)
        }
    }
}
