import Foundation
import ZeroMQ

/// A long-lived float buffer, the kind of owner a zero-copy frame keeps alive.
final class FloatBuffer {
    let floats: UnsafeMutableBufferPointer<Float>

    /// `count` floats whose bit patterns cover NaN payloads, infinities, subnormals and signed zeros.
    init(count: Int, seed: UInt32 = 1) {
        floats = .allocate(capacity: count)
        for index in 0..<count {
            floats[index] = Float(bitPattern: (UInt32(truncatingIfNeeded: index) &+ seed) &* 2_654_435_761)
        }
    }

    deinit { floats.deallocate() }

    /// The whole buffer, read-only.
    var readOnly: UnsafeBufferPointer<Float> { UnsafeBufferPointer(floats) }
}

/// Polls `condition` every millisecond until it holds or `milliseconds` pass; returns whether it held.
func eventually(within milliseconds: Int = 1000, _ condition: () -> Bool) -> Bool {
    let end = ContinuousClock.now + .milliseconds(milliseconds)
    while ContinuousClock.now < end {
        if condition() { return true }
        usleep(1000)
    }
    return condition()
}

/// The wall-clock milliseconds `body` took, with its result.
func timed<Result>(_ body: () throws -> Result) rethrows -> (result: Result, milliseconds: Double) {
    let start = ContinuousClock.now
    let result = try body()
    let elapsed = ContinuousClock.now - start
    return (result, Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
}

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        // Short: an ipc endpoint's path must fit in sockaddr_un (about 107 bytes).
        url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("zmq-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// The frames' contents as strings.
func strings(_ frames: [ReceivedFrame]?) -> [String]? {
    frames?.map(\.string)
}
