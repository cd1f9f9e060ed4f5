/// PyTorch's `nn.GRU(inputSize, hiddenSize, batch_first=True)`: gates r, z, n stacked in that order,
///
///     r = σ(W_ir x + b_ir + W_hr h + b_hr)    z = σ(W_iz x + b_iz + W_hz h + b_hz)
///     n = tanh(W_in x + b_in + r∘(W_hn h + b_hn))
///     h′ = (1 − z)∘n + z∘h
///
/// with the reset gate applied after the hidden projection, as PyTorch (and cuDNN) place it.
/// `forward` returns the last step's hidden state; see `RecurrentLayer`.
public final class GRU: RecurrentLayer {
    /// Creates the layer; `Model` initialises its parameters as PyTorch does.
    public init(inputSize: Int, hiddenSize: Int) {
        super.init(cell: .gru, inputSize: inputSize, hiddenSize: hiddenSize)
    }
}
