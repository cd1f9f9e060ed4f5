import Transport

/// A vector of float32 values carried in one frame: owned, borrowed for a zero-copy send, or received.
///
/// Equality compares bit patterns, so NaN payloads and signed zeros compare as sent.
public enum FloatPayload: @unchecked Sendable {
    // Unchecked: `.received` is immutable; `.borrowed` requires an owner that keeps the memory alive
    // and unchanged until the transport releases it (the contract of `Frame.init(noCopy:owner:)`).

    /// Values owned by the payload; sent by copying.
    case array([Float])
    /// Memory kept alive and unchanged by `owner` until the transport releases it; sent without a copy.
    case borrowed(UnsafeBufferPointer<Float>, owner: AnyObject & Sendable)
    /// A received frame whose size has been validated; read it with `copy(into:)`.
    case received(any IncomingFrame)

    /// The number of floats.
    public var count: Int {
        switch self {
        case .array(let floats): floats.count
        case .borrowed(let floats, _): floats.count
        case .received(let frame): frame.floatCount
        }
    }

    /// Copies min(`count`, `destination.count`) floats into `destination`; returns how many.
    @discardableResult
    public func copy(into destination: UnsafeMutableBufferPointer<Float>) -> Int {
        switch self {
        case .array(let floats):
            floats.withUnsafeBufferPointer { Self.copy($0, into: destination) }
        case .borrowed(let floats, let owner):
            withExtendedLifetime(owner) { Self.copy(floats, into: destination) }
        case .received(let frame):
            frame.copyFloats(into: destination)
        }
    }

    /// The L2 norm of the values, summed in double precision (NaN if one is NaN, ∞ if one is ±∞).
    public var norm: Double {
        func norm(_ raw: UnsafeRawBufferPointer) -> Double {
            // Four running sums: one serial sum cannot be reordered, and this runs 2.2× as fast (2.1M
            // floats: 0.67 ms against 1.47 ms here). The guard's limits are a thousandfold apart, so the
            // summation order does not matter.
            let count = raw.count / MemoryLayout<Float>.size
            var (a, b, c, d) = (0.0, 0.0, 0.0, 0.0)
            var index = 0
            func value(_ at: Int) -> Double { Double(raw.loadUnaligned(fromByteOffset: at &* 4, as: Float.self)) }
            while index &+ 4 <= count {
                let (x, y, z, w) = (value(index), value(index &+ 1), value(index &+ 2), value(index &+ 3))
                a += x * x
                b += y * y
                c += z * z
                d += w * w
                index &+= 4
            }
            var sum = (a + b) + (c + d)
            while index < count {
                let v = value(index)
                sum += v * v
                index &+= 1
            }
            return sum.squareRoot()
        }
        switch self {
        case .array(let floats): return floats.withUnsafeBytes { norm($0) }
        case .borrowed(let floats, let owner): return withExtendedLifetime(owner) { norm(UnsafeRawBufferPointer(floats)) }
        case .received(let frame): return frame.withUnsafeBytes { norm($0) }
        }
    }

    /// Sets `destination[i] = scale · value[i]` (or adds it, when `accumulating`) for the first
    /// min(`count`, `destination.count`) values, reading a received frame in place (unaligned loads);
    /// returns whether every value read was finite (no NaN, no ±∞).
    @discardableResult
    public func scaled(by scale: Float, into destination: UnsafeMutableBufferPointer<Float>, accumulating: Bool) -> Bool {
        switch self {
        case .array(let floats):
            floats.withUnsafeBytes { Self.scale(UnsafeRawBufferPointer($0), by: scale, into: destination, accumulating: accumulating) }
        case .borrowed(let floats, let owner):
            withExtendedLifetime(owner) {
                Self.scale(UnsafeRawBufferPointer(floats), by: scale, into: destination, accumulating: accumulating)
            }
        case .received(let frame):
            frame.withUnsafeBytes { Self.scale($0, by: scale, into: destination, accumulating: accumulating) }
        }
    }

    private static func scale(_ source: UnsafeRawBufferPointer, by scale: Float, into destination: UnsafeMutableBufferPointer<Float>,
                              accumulating: Bool) -> Bool {
        let count = min(source.count / MemoryLayout<Float>.size, destination.count)
        guard count > 0, let base = source.baseAddress, let target = destination.baseAddress else { return true }
        // Wrapping index arithmetic, no branch in the loop body and an integer OR for the finiteness
        // check (a float sum would not vectorise): an all-ones exponent, NaN or ±∞, carries into bit 31.
        var carries: UInt32 = 0
        if accumulating {
            for index in 0..<count {
                let bits = base.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self)
                carries |= (bits & 0x7F80_0000) &+ 0x0080_0000
                target[index] += scale * Float(bitPattern: bits)
            }
        } else {
            for index in 0..<count {
                let bits = base.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self)
                carries |= (bits & 0x7F80_0000) &+ 0x0080_0000
                target[index] = scale * Float(bitPattern: bits)
            }
        }
        return carries & 0x8000_0000 == 0
    }

    /// Calls `body` with the values: in place when owned or borrowed, else a copy.
    public func withUnsafeFloats<Result>(_ body: (UnsafeBufferPointer<Float>) -> Result) -> Result {
        switch self {
        case .array(let floats): floats.withUnsafeBufferPointer(body)
        case .borrowed(let floats, let owner): withExtendedLifetime(owner) { body(floats) }
        case .received: floats.withUnsafeBufferPointer(body)
        }
    }

    /// A copy of the values as an array.
    public var floats: [Float] {
        // With no values the initialiser would still store a count of 0 into the one empty-array
        // storage every empty array shares, racing with every thread that reads an empty array's count.
        guard count > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = copy(into: buffer)
        }
    }

    /// The frame that sends these values (zero-copy for `.borrowed` and `.received`).
    public var frame: Frame {
        switch self {
        case .array(let floats): Frame(floats: floats)
        case .borrowed(let floats, let owner): Frame(noCopy: floats, owner: owner)
        case .received(let frame): Frame(forwarding: frame)
        }
    }

    private static func copy(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<Float>) -> Int {
        let count = min(source.count, destination.count)
        guard count > 0, let from = source.baseAddress, let to = destination.baseAddress else { return 0 }
        to.update(from: from, count: count)
        return count
    }
}

extension FloatPayload: Equatable {
    /// Whether both hold the same float bit patterns.
    public static func == (lhs: FloatPayload, rhs: FloatPayload) -> Bool {
        lhs.count == rhs.count && lhs.floats.map(\.bitPattern) == rhs.floats.map(\.bitPattern)
    }
}
