import Foundation

/// How far a step's backward pass has got, for sending its gradient in parts (overlap runs). The
/// compute thread cuts a part each time backward leaves at least `minimumPart` final values not yet
/// in a part; the worker's thread takes the parts to send, and the push carries what is left. The
/// parts depend on the model's layers only, never on how soon the worker's thread takes them.
final class BackwardProgress: @unchecked Sendable {
    // Unchecked: `cut` and `ready` are guarded by `lock`.
    private let lock = NSLock()
    /// Where the last part cut begins: the values from here to the end are in parts.
    private var cut: Int
    /// Parts cut and not yet taken, in the order they were cut (last range first).
    private var ready: [Range<Int>] = []
    private let minimumPart: Int
    private let wake: @Sendable () -> Void

    /// Progress over a gradient of `count` values; `wake` tells the worker's thread that a part is due.
    init(count: Int, minimumPart: Int, wake: @escaping @Sendable () -> Void) {
        cut = count
        self.minimumPart = max(1, minimumPart)
        self.wake = wake
    }

    /// On the compute thread: the gradients from `offset` to the end are final. A part never starts
    /// at 0: the push carries the first values.
    func finalFrom(_ offset: Int) {
        let due = lock.withLock { () -> Bool in
            guard offset > 0, cut - offset >= minimumPart else { return false }
            ready.append(offset..<cut)
            cut = offset
            return true
        }
        if due { wake() }
    }

    /// The next part to send, if one has been cut.
    func takeRange() -> Range<Int>? {
        lock.withLock { ready.isEmpty ? nil : ready.removeFirst() }
    }

    /// How many values, from the start, are in no part: what the push carries.
    var untaken: Int { lock.withLock { cut } }
}
