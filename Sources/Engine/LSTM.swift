/// PyTorch's `nn.LSTM(inputSize, hiddenSize, batch_first=True)`: gates i, f, g, o stacked in that order,
///
///     i = σ(W_ii x + b_ii + W_hi h + b_hi)    f = σ(W_if x + b_if + W_hf h + b_hf)
///     g = tanh(W_ig x + b_ig + W_hg h + b_hg) o = σ(W_io x + b_io + W_ho h + b_ho)
///     c′ = f∘c + i∘g                          h′ = o∘tanh(c′)
///
/// `forward` returns the last step's hidden state; see `RecurrentLayer`.
public final class LSTM: RecurrentLayer {
    /// Creates the layer; `Model` initialises its parameters as PyTorch does.
    public init(inputSize: Int, hiddenSize: Int) {
        super.init(cell: .lstm, inputSize: inputSize, hiddenSize: hiddenSize)
    }

    /// c₀ [batch, hiddenSize] for the following forward passes; nil means zeros.
    public var initialCell: Tensor? {
        get { initialCellState }
        set { initialCellState = newValue }
    }

    /// The last step's cell state c_T [batch, hiddenSize] from the last forward pass (PyTorch's `c_n`).
    public var finalCell: Tensor { lastCell }

    /// ∂loss/∂c₀ [batch, hiddenSize] from the last `backward` (empty before the first).
    public var initialCellGradient: Tensor { cellGradient }
}
