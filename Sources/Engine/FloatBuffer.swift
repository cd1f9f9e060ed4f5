/// A fixed number of floats, zeroed when allocated and freed with the last reference to it: the
/// owner of a model's flat buffers and of the cluster's scratch vectors.
public final class FloatBuffer {
    /// The floats, valid while this buffer lives.
    public let values: UnsafeMutableBufferPointer<Float>

    /// `count` zeros.
    public init(count: Int) {
        values = .allocate(capacity: count)
        values.initialize(repeating: 0)
    }

    deinit { values.deallocate() }
}
