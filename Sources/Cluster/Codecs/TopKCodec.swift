/// The `fraction` of the values largest in magnitude, as (index, value) pairs; the others read as 0.
/// Lossy on its own: pair it with `ErrorFeedback`, which carries what was left out into the next
/// vector, so nothing is lost, only late.
///
/// Frame: k (UInt32), then k indices (UInt32, strictly increasing, below the vector's count), then
/// k float32 values, all little-endian: 4 + 8k bytes.
public struct TopKCodec: Codec {
    /// The share of the values sent, in (0, 1].
    public let fraction: Double

    /// A codec sending `fraction` (0 < fraction ≤ 1) of the values, at least one of a non-empty vector.
    public init(fraction: Double) {
        precondition(fraction > 0 && fraction <= 1, "a top-k fraction lies in (0, 1]")
        self.fraction = fraction
    }

    public var name: String { "topk:\(fraction)" }
    public var isLossless: Bool { fraction == 1 }

    /// How many of `count` values a frame carries.
    public func keptCount(of count: Int) -> Int {
        count == 0 ? 0 : min(count, max(1, Int((fraction * Double(count)).rounded(.up))))
    }

    public func encode(_ values: UnsafeBufferPointer<Float>) -> [UInt8] {
        let k = keptCount(of: values.count)
        let kept = Self.largest(k, of: values)
        var bytes = [UInt8](repeating: 0, count: 4 + 8 * k)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt32(k).littleEndian, as: UInt32.self)
            for (position, index) in kept.enumerated() {
                raw.storeBytes(of: UInt32(index).littleEndian, toByteOffset: 4 + 4 * position, as: UInt32.self)
                raw.storeBytes(of: values[index].bitPattern.littleEndian, toByteOffset: 4 + 4 * k + 4 * position, as: UInt32.self)
            }
        }
        return bytes
    }

    public func decode(_ bytes: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>) throws(CodecError) {
        guard bytes.count >= 4 else { throw .size(codec: name, bytes: bytes.count, expected: "at least 4") }
        let k = Int(UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self)))
        guard k <= destination.count else { throw .tooManyValues(codec: name, count: k, limit: destination.count) }
        guard bytes.count == 4 + 8 * k else { throw .size(codec: name, bytes: bytes.count, expected: "\(4 + 8 * k) (\(k) indices and values)") }
        destination.update(repeating: 0)
        var previous = -1
        for position in 0..<k {
            let index = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 + 4 * position, as: UInt32.self))
            guard Int(index) > previous, Int(index) < destination.count else {
                throw .badIndex(codec: name, position: position, index: index, count: destination.count)
            }
            previous = Int(index)
            destination[Int(index)] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 + 4 * k + 4 * position, as: UInt32.self)))
        }
    }

    /// The indices of the `k` values largest in magnitude, in increasing order; among equal magnitudes
    /// the lower indices. A NaN counts as the largest, so a broken gradient is seen, not hidden.
    static func largest(_ k: Int, of values: UnsafeBufferPointer<Float>) -> [Int] {
        guard k > 0 else { return [] }
        guard k < values.count else { return Array(values.indices) }
        var magnitudes = values.map { $0.isNaN ? Float.infinity : abs($0) }
        let threshold = select(k - 1, inDescending: &magnitudes)
        var above = 0
        for value in values where (value.isNaN ? Float.infinity : abs(value)) > threshold { above += 1 }
        var equalLeft = k - above
        var kept: [Int] = []
        kept.reserveCapacity(k)
        for index in values.indices {
            let magnitude = values[index].isNaN ? Float.infinity : abs(values[index])
            if magnitude > threshold {
                kept.append(index)
            } else if magnitude == threshold && equalLeft > 0 {
                kept.append(index)
                equalLeft -= 1
            }
        }
        return kept
    }

    /// The value that would be at `rank` if `values` were sorted in descending order (quickselect;
    /// reorders `values`).
    static func select(_ rank: Int, inDescending values: inout [Float]) -> Float {
        var low = 0, high = values.count - 1
        while low < high {
            let middle = low + (high - low) / 2
            // Median of three as the pivot, so sorted or constant input stays linear.
            let a = values[low], b = values[middle], c = values[high]
            let pivot = max(min(a, b), min(max(a, b), c))
            var i = low, j = high
            while i <= j {
                while values[i] > pivot { i += 1 }
                while values[j] < pivot { j -= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if rank <= j {
                high = j
            } else if rank >= i {
                low = i
            } else {
                return values[rank]
            }
        }
        return values[rank]
    }
}
