/// One frame of a received message, as a transport delivers it: immutable bytes, readable from any thread.
///
/// The bytes need not be aligned (over tcp, small frames point into a receive buffer at arbitrary
/// offsets): read them with `loadUnaligned`, `copyFloats(into:)` or `bytes`, never by binding the
/// memory to a wider type.
public protocol IncomingFrame: AnyObject, Sendable {
    /// The frame's size in bytes.
    var count: Int { get }
    /// The bytes, valid as long as the frame is alive.
    var unsafeBytes: UnsafeRawBufferPointer { get }
    /// A property of the connection the frame came in on (for example the "User-Id" a CURVE
    /// handshake admitted), or nil if it has none.
    func metadata(_ property: String) -> String?
}

extension IncomingFrame {
    /// Calls `body` with the frame's bytes, which are valid only during the call and may be unaligned.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(self) { try body(unsafeBytes) }
    }

    /// A copy of the frame's bytes.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// The frame's bytes decoded as UTF-8, with invalid sequences replaced.
    public var string: String {
        withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// The number of whole float32 values in the frame (`count / 4`).
    public var floatCount: Int { count / MemoryLayout<Float>.size }

    /// Copies min(`floatCount`, `destination.count`) floats into `destination`; returns how many.
    @discardableResult
    public func copyFloats(into destination: UnsafeMutableBufferPointer<Float>) -> Int {
        let floats = min(floatCount, destination.count)
        guard floats > 0, let target = destination.baseAddress else { return 0 }
        withUnsafeBytes { source in
            // A byte copy: the source may be unaligned, the destination is aligned Float memory.
            UnsafeMutableRawPointer(target).copyMemory(from: source.baseAddress!, byteCount: floats * MemoryLayout<Float>.size)
        }
        return floats
    }

    /// A copy of the frame's whole float32 values.
    public var floats: [Float] {
        // Not through the initialiser when empty: it would store a count of 0 into the storage every
        // empty array shares, racing with every other thread that reads an empty array's count.
        guard floatCount > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: floatCount) { buffer, initialized in
            initialized = copyFloats(into: buffer)
        }
    }
}
