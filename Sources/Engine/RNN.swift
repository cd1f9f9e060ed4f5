/// PyTorch's `nn.RNN(inputSize, hiddenSize, batch_first=True)` with tanh: h_t = tanh(W_ih x_t + b_ih +
/// W_hh h_{t−1} + b_hh). `forward` returns the last step's hidden state; see `RecurrentLayer`.
public final class RNN: RecurrentLayer {
    /// Creates the layer; `Model` initialises its parameters as PyTorch does.
    public init(inputSize: Int, hiddenSize: Int) {
        super.init(cell: .rnn, inputSize: inputSize, hiddenSize: hiddenSize)
    }
}
