import Testing
@testable import Cluster

/// The server's weight buffers: reused only once nothing (the server, a queued frame) holds them.
@Suite struct WeightSnapshotsTests {
    @Test func aBufferReturnsToThePoolWhenItsLastHolderLetsGo() {
        let pool = WeightSnapshots(count: 3)
        var current: WeightSnapshots.Snapshot? = [Float](arrayLiteral: 1, 2, 3).withUnsafeBufferPointer { pool.snapshot(of: $0) }
        var inFlight: FloatPayload? = current!.payload
        #expect(inFlight?.floats == [1, 2, 3])
        current = nil
        #expect(pool.freeCount == 0, "a payload on its way keeps the buffer")
        inFlight = nil
        #expect(pool.freeCount == 1)
        let next = pool.acquire()
        #expect(pool.freeCount == 0, "the free buffer is reused rather than a new one allocated")
        #expect(next.values.count == 3)
    }
}
