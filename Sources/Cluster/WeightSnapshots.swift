import Foundation

/// Float buffers of one size, recycled once nothing holds them: the parameter server's weights.
///
/// The server writes each update's result into a fresh buffer (`Optimizer.step(from:into:gradients:)`)
/// and sends that buffer zero-copy to every worker; a buffer is never written again while it is
/// current or while a frame holds it, and returns to the pool when its last holder lets go (on
/// libzmq's I/O thread after a tcp send, or when an inproc receiver drops the frame). So updating
/// and sending the weights cost no copy at all.
final class WeightSnapshots: @unchecked Sendable {
    // Unchecked: `free` is guarded by `lock`; a buffer is written only while one owner holds it.
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

    /// A buffer to write (its contents are left over from earlier use), allocated only when none is free.
    func acquire() -> Snapshot {
        let buffer = lock.withLock { free.popLast() } ?? .allocate(capacity: count)
        return Snapshot(buffer: buffer, pool: self)
    }

    /// A buffer holding a copy of `values` (whose count must be the pool's).
    func snapshot(of values: UnsafeBufferPointer<Float>) -> Snapshot {
        precondition(values.count == count, "a snapshot has the pool's size")
        let snapshot = acquire()
        if let source = values.baseAddress, let target = snapshot.buffer.baseAddress { target.update(from: source, count: count) }
        return snapshot
    }

    /// The number of buffers waiting for reuse (for tests).
    var freeCount: Int { lock.withLock { free.count } }

    fileprivate func recycle(_ buffer: UnsafeMutableBufferPointer<Float>) {
        lock.withLock { free.append(buffer) }
    }

    /// One buffer, owned while anything (the server, a frame) holds this object; back in the pool after.
    final class Snapshot: @unchecked Sendable {
        // Unchecked: the buffer is written only by the code that acquired it, before it is shared.
        let buffer: UnsafeMutableBufferPointer<Float>
        private let pool: WeightSnapshots

        fileprivate init(buffer: UnsafeMutableBufferPointer<Float>, pool: WeightSnapshots) {
            self.buffer = buffer
            self.pool = pool
        }

        deinit { pool.recycle(buffer) }

        /// The values, read-only.
        var values: UnsafeBufferPointer<Float> { UnsafeBufferPointer(buffer) }

        /// The values as a zero-copy payload that keeps this buffer out of the pool while it is sent.
        var payload: FloatPayload { .borrowed(values, owner: self) }
    }
}
