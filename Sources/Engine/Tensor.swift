/// A float32 array with a shape, stored contiguously in row-major order.
///
/// A tensor is a reference type, like PyTorch's: layers keep their outputs and reuse the
/// storage from step to step, growing it only when a larger batch arrives.
public final class Tensor {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The number of elements, the product of `shape`.
    public private(set) var count: Int
    /// The first element; `count` elements follow contiguously.
    public private(set) var data: UnsafeMutablePointer<Float>
    private var capacity: Int

    /// Creates a tensor of the given shape filled with zeros.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.capacity = max(count, 1)
        self.data = .allocate(capacity: capacity)
        data.initialize(repeating: 0, count: capacity)
    }

    /// Creates a tensor of the given shape holding `values` in row-major order.
    public convenience init(shape: [Int], values: [Float]) {
        self.init(zeros: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    /// Creates an empty tensor whose shape is set by the first `resize`.
    public convenience init() { self.init(zeros: [0]) }

    deinit { data.deallocate() }

    /// Gives the tensor a new shape, reusing its storage when it is large enough.
    ///
    /// The contents are unspecified afterwards unless the element count is unchanged.
    public func resize(to newShape: [Int]) {
        let newCount = newShape.reduce(1, *)
        if newCount > capacity {
            data.deallocate()
            capacity = newCount
            data = .allocate(capacity: capacity)
            data.initialize(repeating: 0, count: capacity)
        }
        shape = newShape
        count = newCount
    }

    /// Sets every element to zero.
    public func zero() { data.update(repeating: 0, count: count) }

    /// The elements as a buffer.
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }

    /// A copy of the elements as an array.
    public var scalars: [Float] { Array(buffer) }

    /// The element at a flat row-major index.
    public subscript(index: Int) -> Float {
        get { data[index] }
        set { data[index] = newValue }
    }

    /// The size of the first dimension (the batch), or 1 for a scalar.
    public var rows: Int { shape.first ?? 1 }

    /// The number of elements per row: `count / rows`.
    public var columns: Int { rows == 0 ? 0 : count / rows }

    /// Copies another tensor's shape and elements into this one.
    public func copy(from other: Tensor) {
        resize(to: other.shape)
        data.update(from: other.data, count: count)
    }
}
