/// Where one named parameter sits in a model's flat buffer: name, shape and element offset.
public struct ParameterView: Sendable, Equatable {
    /// The full `state_dict` name, for example `fc1.weight`.
    public var name: String
    /// The shape, outermost dimension first.
    public var shape: [Int]
    /// The index of the first element in the flat buffer.
    public var offset: Int
    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// The elements' range in the flat buffer.
    public var range: Range<Int> { offset..<offset + count }
}
