extension Models {
    /// The tutorial's sequence regressors (`SimpleRNN`, `SimpleLSTM`, and the GRU alike): a recurrent
    /// layer over [batch, time, inputSize], started from a zero state, whose last time step's hidden
    /// state feeds `fc`, a `Linear(hiddenSize, outputs)`.
    ///
    /// The layers are named as the tutorial's modules name them, so the `state_dict` names match
    /// PyTorch's: `lstm.weight_ih_l0`, `lstm.weight_hh_l0`, `lstm.bias_ih_l0`, `lstm.bias_hh_l0`,
    /// `fc.weight`, `fc.bias` (`rnn.` / `gru.` for the other cells). The tutorial trains them with
    /// `MSELoss` and Adam (lr 0.01) on windows of 20 values of sin(t).
    public static func sequenceRegressor(cell: RecurrentCell, inputSize: Int = 1, hiddenSize: Int = 32,
                                         outputs: Int = 1) -> Sequential {
        Sequential([
            (cell.rawValue, cell.makeLayer(inputSize: inputSize, hiddenSize: hiddenSize)),
            ("fc", Linear(hiddenSize, outputs)),
        ])
    }
}
