/// Where one named tensor sits in a model's flat buffers: name, shape, element offset, and whether it
/// is a parameter (in `Model.parameters`) or a buffer (in `Model.buffers`).
public struct ParameterView: Sendable, Equatable {
    /// The full `state_dict` name, for example `fc1.weight`.
    public var name: String
    /// The shape, outermost dimension first.
    public var shape: [Int]
    /// The index of the first element in its flat buffer.
    public var offset: Int
    /// Parameter or buffer, which says the flat buffer `offset` counts in.
    public var kind: ParameterSpec.Kind = .parameter
    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// The elements' range in the flat buffer.
    public var range: Range<Int> { offset..<offset + count }
}
