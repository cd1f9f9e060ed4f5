// A correct program that ThreadSanitizer reports as racy: a copy-on-write hand-off between threads.
//
//   swiftc -O -sanitize=thread scripts/tsan_copy_on_write.swift -o /tmp/cow && /tmp/cow
//
// A writer adds to an array in place under a lock; a reader copies the array under the same lock
// and reads its copy after unlocking. Value semantics make this correct: the writer's uniqueness
// check sees the reader's reference and copies the buffer, or (once the reader has dropped it)
// writes a buffer nobody else reads. What orders the reader's reads before the writer's in-place
// write is the array's reference count, whose atomics are in the Swift runtime, which
// ThreadSanitizer does not instrument, so it reports "Swift access race" on the buffer. This is the
// pattern of swift-prometheus's Histogram (scripts/tsan.supp) and of docs/reliability.md's
// copy-on-write reports.
import Foundation

final class Guarded: @unchecked Sendable {
    // Unchecked: `values` is read and written only under `lock`.
    private let lock = NSLock()
    private var values = [Int](repeating: 0, count: 64)

    func add() {
        lock.lock()
        for index in values.indices { values[index] += 1 }
        lock.unlock()
    }

    func snapshot() -> [Int] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}

let guarded = Guarded()
let rounds = 20_000
let finished = DispatchSemaphore(value: 0)
let writer = Thread {
    for _ in 0..<rounds { guarded.add() }
    finished.signal()
}
let reader = Thread {
    var total = 0
    for _ in 0..<rounds { total &+= guarded.snapshot().reduce(0, +) }
    print("the reader saw a total of \(total)")
    finished.signal()
}
writer.start()
reader.start()
finished.wait()
finished.wait()
