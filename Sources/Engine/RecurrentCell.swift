/// Which recurrent cell a layer runs. The raw value is the tutorial's module name for it (`rnn`, `lstm`,
/// `gru`), which prefixes the parameters in `Models.sequenceRegressor`.
public enum RecurrentCell: String, Sendable, CaseIterable {
    /// Elman RNN with tanh: h′ = tanh(W_ih x + b_ih + W_hh h + b_hh).
    case rnn
    /// Long short-term memory with gates i, f, g, o (PyTorch's order in the stacked weights).
    case lstm
    /// Gated recurrent unit with gates r, z, n (PyTorch's order and reset-gate placement).
    case gru

    /// G, the number of gate blocks stacked in `weight_ih_l0` [G·H, I] and `weight_hh_l0` [G·H, H].
    public var gateCount: Int {
        switch self {
        case .rnn: 1
        case .lstm: 4
        case .gru: 3
        }
    }

    /// A new layer running this cell.
    public func makeLayer(inputSize: Int, hiddenSize: Int) -> RecurrentLayer {
        switch self {
        case .rnn: RNN(inputSize: inputSize, hiddenSize: hiddenSize)
        case .lstm: LSTM(inputSize: inputSize, hiddenSize: hiddenSize)
        case .gru: GRU(inputSize: inputSize, hiddenSize: hiddenSize)
        }
    }
}
