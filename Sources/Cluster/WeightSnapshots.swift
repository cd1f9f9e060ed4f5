import Foundation

/// Immutable copies of a float vector for zero-copy sends, recycled once libzmq lets go of them.
///
/// `snapshot(of:)` copies the values into a free buffer (allocating one only when none is free) and
/// returns a `.borrowed` payload whose owner puts the buffer back when the last frame that uses it
/// is released (on libzmq's I/O thread after a tcp send, or when an inproc receiver drops the frame).
/// So a server sends the same weights to every worker with one copy, and its next update never
/// writes into memory that is still on its way.
final class WeightSnapshots: @unchecked Sendable {
    // Unchecked: `free` is guarded by `lock`; the buffers are written only while no frame holds them.
    private let lock = NSLock()
    private var free: [UnsafeMutableBufferPointer<Float>] = []
    private let count: Int

    /// A pool of buffers of `count` floats.
    init(count: Int) {
        self.count = count
    }

    deinit {
        for buffer in free { buffer.deallocate() }
    }

    /// A zero-copy payload holding a copy of `values` (whose count must be the pool's).
    func snapshot(of values: UnsafeBufferPointer<Float>) -> FloatPayload {
        precondition(values.count == count, "a snapshot has the pool's size")
        let buffer = lock.withLock { free.popLast() } ?? .allocate(capacity: count)
        if let source = values.baseAddress, let target = buffer.baseAddress { target.update(from: source, count: count) }
        return .borrowed(UnsafeBufferPointer(buffer), owner: Lease(buffer: buffer, pool: self))
    }

    /// The number of buffers waiting for reuse (for tests).
    var freeCount: Int { lock.withLock { free.count } }

    fileprivate func recycle(_ buffer: UnsafeMutableBufferPointer<Float>) {
        lock.withLock { free.append(buffer) }
    }

    /// Owns one buffer while frames use it; gives it back to the pool when released.
    private final class Lease: @unchecked Sendable {
        // Unchecked: immutable after init.
        let buffer: UnsafeMutableBufferPointer<Float>
        let pool: WeightSnapshots

        init(buffer: UnsafeMutableBufferPointer<Float>, pool: WeightSnapshots) {
            self.buffer = buffer
            self.pool = pool
        }

        deinit { pool.recycle(buffer) }
    }
}
