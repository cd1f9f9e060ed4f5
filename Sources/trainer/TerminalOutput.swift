import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where live displays draw: standard output, whether it is a terminal, and how wide it is.
struct TerminalOutput: Sendable {
    /// Whether the output is a terminal (`isatty`), the only place a display redraws in place.
    var isTerminal: Bool
    /// The terminal's width in characters (80 when it does not say).
    var columns: Int
    /// Writes text as it is, at once.
    var write: @Sendable (String) -> Void

    /// Standard output, through the same buffer as `print`, flushed after every write.
    static var standardOutput: TerminalOutput {
        TerminalOutput(isTerminal: isatty(STDOUT_FILENO) == 1, columns: width(of: STDOUT_FILENO)) { text in
            print(text, terminator: "")
            fflush(nil)
        }
    }

    /// The width of the terminal at `descriptor`, else `$COLUMNS`, else 80.
    static func width(of descriptor: Int32) -> Int {
        var size = winsize()
        if ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 0 { return columns }
        return 80
    }
}

/// Lets a display redraw at most once per `interval` seconds (the first time at once).
struct RedrawThrottle {
    var interval: Double = 0.1
    private var last: Double?

    init(interval: Double = 0.1) { self.interval = interval }

    /// Whether to draw at `now` (seconds on any monotonic clock); records the draw when it says yes.
    mutating func allows(at now: Double) -> Bool {
        if let last, now - last < interval { return false }
        last = now
        return true
    }
}

/// Seconds on the monotonic clock since an arbitrary start, for throttling.
func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}
