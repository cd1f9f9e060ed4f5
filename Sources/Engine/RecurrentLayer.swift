/// A single-layer, unidirectional, batch-first recurrent layer (`RNN`, `LSTM` or `GRU`), with PyTorch's
/// parameters: `weight_ih_l0` [G·H, I], `weight_hh_l0` [G·H, H], `bias_ih_l0` [G·H], `bias_hh_l0` [G·H],
/// initialised uniform in ±1/√H.
///
/// **Input and output.** The input is [batch, time, inputSize], as `nn.RNN(..., batch_first=True)` takes
/// it. `forward` returns the hidden state of the last time step, [batch, hiddenSize]: what the tutorial's
/// models feed their `Linear` head (`out[:, -1, :]`), so a recurrent layer can be followed directly by a
/// `Linear` in a `Sequential`. `backward` takes the gradient w.r.t. that last hidden state. After a forward
/// pass, `outputSequence` holds every step's hidden state [batch, time, hiddenSize] (PyTorch's `out`) and
/// `finalHidden` the last one (PyTorch's `h_n` without its leading layer dimension); `LSTM` adds
/// `finalCell` (`c_n`).
///
/// **Initial state.** `initialHidden` (and `LSTM.initialCell`), [batch, hiddenSize], start the next
/// forward passes; nil starts from zeros, as the tutorial's `h0 = torch.zeros(...)`. After `backward`,
/// `initialHiddenGradient` (and `LSTM.initialCellGradient`) hold the gradient w.r.t. the initial state,
/// whether it was given or zero.
///
/// **Cost.** Each step is one product for its input projection, one for its hidden projection and one
/// fused pass over the gates, whose activations stay in buffers kept for backward. Backward
/// backpropagates through time with one product per step (two when the input gradient is wanted) and
/// then one product each for ∂W_ih and ∂W_hh over all steps. Internally every per-step tensor is
/// time-major ([time, batch, ·]), so each step works on one contiguous block. Batch rows are
/// independent, so the time loops run on the compute pool with a block of rows per thread. Buffers are
/// reused: after the first call at a given size nothing is allocated. Evaluation mode computes the same
/// values and keeps nothing for backward.
public class RecurrentLayer: Layer {
    /// The cell this layer runs.
    public let cell: RecurrentCell
    /// I, the number of features per time step.
    public let inputSize: Int
    /// H, the size of the hidden state.
    public let hiddenSize: Int

    /// h₀ [batch, hiddenSize] for the following forward passes; nil means zeros.
    public var initialHidden: Tensor?

    /// Every time step's hidden state [batch, time, hiddenSize] from the last forward pass (assembled
    /// from the layer's time-major buffers on the first access after each forward pass).
    public var outputSequence: Tensor {
        if !sequenceIsCurrent {
            assembleSequence()
            sequenceIsCurrent = true
        }
        return sequence
    }

    /// The last step's hidden state h_T [batch, hiddenSize] from the last forward pass: the same tensor
    /// `forward` returned.
    public var finalHidden: Tensor { last }

    /// ∂loss/∂h₀ [batch, hiddenSize] from the last `backward` (empty before the first).
    public var initialHiddenGradient: Tensor { hiddenGradient }

    // c₀ for the LSTM, exposed as `LSTM.initialCell`.
    var initialCellState: Tensor?

    // Internal rather than private: the backward pass (RecurrentLayer+Backward.swift) and LSTM use them.
    var weightIH: UnsafeMutablePointer<Float>?
    var weightHH: UnsafeMutablePointer<Float>?
    var biasIH: UnsafeMutablePointer<Float>?
    var biasHH: UnsafeMutablePointer<Float>?
    var weightIHGradient: UnsafeMutablePointer<Float>?
    var weightHHGradient: UnsafeMutablePointer<Float>?
    var biasIHGradient: UnsafeMutablePointer<Float>?
    var biasHHGradient: UnsafeMutablePointer<Float>?
    private var storageOwner: AnyObject?  // keeps the memory the pointers above point into

    // Kept by forward, time-major: row (t, b) of a [T, B, ·] tensor is row t·B + b.
    let inputByTime = Tensor()   // [T, B, I]: the input
    let gates = Tensor()         // [T, B, G·H]: projections, then the gate activations (RNN: pre-activations)
    let hiddenStates = Tensor()  // [T + 1, B, H]: h₀, h₁, …, h_T
    let cellStates = Tensor()    // LSTM [T + 1, B, H]: c₀, c₁, …, c_T
    let cellTanh = Tensor()      // LSTM [T, B, H]: tanh(c_t)
    let candidate = Tensor()     // GRU [T, B, H]: W_hn h_{t−1} + b_hn
    private let projection = Tensor()    // GRU [B, G·H]: W_hh h_{t−1} at the current step
    private let combinedBias = Tensor()  // [G·H]: b_ih + b_hh (for the GRU's n gate, b_in alone)
    private let last = Tensor()          // [B, H]: h_T, the output
    let lastCell = Tensor()              // LSTM [B, H]: c_T
    private let sequence = Tensor()      // [B, T, H], assembled on demand
    private var sequenceIsCurrent = false
    var savedSize: (batch: Int, steps: Int)?  // set by a training-mode forward

    // Made by backward.
    let gateGradients = Tensor()        // [T, B, G·H]: ∂loss/∂ input-side pre-activations
    let hiddenGateGradients = Tensor()  // GRU [T, B, G·H]: ∂loss/∂(W_hh h + b_hh)
    let hiddenGradient = Tensor()       // [B, H]: ∂loss/∂h_t while stepping back, ∂loss/∂h₀ at the end
    let cellGradient = Tensor()         // LSTM [B, H]: likewise for c
    let inputGradient = Tensor()        // [B, T, I]
    // Per pool part, G·H values for the input side and (GRU) G·H for the hidden side: the bias-gradient
    // totals over all steps, and the sums of the current step that are added to them.
    var biasTotals: UnsafeMutablePointer<Double>
    var biasStepSums: UnsafeMutablePointer<Float>
    var biasScratchCapacity = 0

    /// Batch rows per compute-pool part: smaller batches run on one thread.
    static let rowsPerPart = 16

    init(cell: RecurrentCell, inputSize: Int, hiddenSize: Int) {
        precondition(inputSize > 0 && hiddenSize > 0, "\(cell): inputSize and hiddenSize must be positive")
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        biasTotals = .allocate(capacity: 0)
        biasStepSums = .allocate(capacity: 0)
    }

    deinit {
        biasTotals.deallocate()
        biasStepSums.deallocate()
    }

    public var parameterSpecs: [ParameterSpec] {
        let rows = cell.gateCount * hiddenSize
        return [
            ParameterSpec("weight_ih_l0", [rows, inputSize]),
            ParameterSpec("weight_hh_l0", [rows, hiddenSize]),
            ParameterSpec("bias_ih_l0", [rows]),
            ParameterSpec("bias_hh_l0", [rows]),
        ]
    }

    public func bind(_ slots: [ParameterSlot]) {
        storageOwner = slots[0].owner
        weightIH = slots[0].value
        weightHH = slots[1].value
        biasIH = slots[2].value
        biasHH = slots[3].value
        weightIHGradient = slots[0].gradient
        weightHHGradient = slots[1].gradient
        biasIHGradient = slots[2].gradient
        biasHHGradient = slots[3].gradient
    }

    /// PyTorch's default: every weight and bias uniform in ±1/√H, in `state_dict` order.
    public func resetParameters(using generator: inout SeededGenerator) {
        let bound = 1 / Float(hiddenSize).squareRoot()
        let rows = cell.gateCount * hiddenSize
        generator.fillUniform(weightIH!, count: rows * inputSize, low: -bound, high: bound)
        generator.fillUniform(weightHH!, count: rows * hiddenSize, low: -bound, high: bound)
        generator.fillUniform(biasIH!, count: rows, low: -bound, high: bound)
        generator.fillUniform(biasHH!, count: rows, low: -bound, high: bound)
    }

    /// The parts a batch is cut into on the compute pool.
    func partCount(batch: Int) -> Int {
        min(ComputePool.shared.threadCount, max(1, batch / Self.rowsPerPart))
    }

    /// Rows `part` of `parts` of a batch.
    func partRows(_ part: Int, of parts: Int, batch: Int) -> Range<Int> {
        batch * part / parts..<batch * (part + 1) / parts
    }

    // MARK: Forward

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        precondition(input.shape.count == 3 && input.shape[2] == inputSize,
                     "\(cell): input has shape \(input.shape), expected [batch, time, \(inputSize)]")
        let batch = input.shape[0], steps = input.shape[1], hidden = hiddenSize
        precondition(batch > 0 && steps > 0, "\(cell): input has shape \(input.shape), needs a batch and a time step")
        let width = cell.gateCount * hidden
        if let initialHidden {
            precondition(initialHidden.count == batch * hidden,
                         "\(cell): initialHidden has shape \(initialHidden.shape), expected [\(batch), \(hidden)]")
        }
        if cell == .lstm, let initialCellState {
            precondition(initialCellState.count == batch * hidden,
                         "LSTM: initialCell has shape \(initialCellState.shape), expected [\(batch), \(hidden)]")
        }
        inputByTime.resize(to: [steps, batch, inputSize])
        gates.resize(to: [steps, batch, width])
        hiddenStates.resize(to: [steps + 1, batch, hidden])
        last.resize(to: [batch, hidden])
        switch cell {
        case .rnn:
            break
        case .lstm:
            cellStates.resize(to: [steps + 1, batch, hidden])
            cellTanh.resize(to: [steps, batch, hidden])
            lastCell.resize(to: [batch, hidden])
        case .gru:
            candidate.resize(to: [steps, batch, hidden])
            projection.resize(to: [batch, width])
        }
        combinedBias.resize(to: [width])
        let bias = combinedBias.data, bIH = biasIH!, bHH = biasHH!
        // The GRU's b_hn sits inside r ∘ (W_hn h + b_hn), so only its r and z biases combine.
        let folded = cell == .gru ? 2 * hidden : width
        for j in 0..<width { bias[j] = j < folded ? bIH[j] + bHH[j] : bIH[j] }

        let parts = partCount(batch: batch)
        let x = input.data, h0 = initialHidden?.data, c0 = initialCellState?.data
        ComputePool.shared.run(parts: parts) { part in
            forwardRows(partRows(part, of: parts, batch: batch), batch: batch, steps: steps, input: x,
                        initialHidden: h0, initialCell: c0)
        }
        sequenceIsCurrent = false
        savedSize = mode == .training ? (batch, steps) : nil
        return last
    }

    /// Runs every time step for a block of batch rows (independent of all other rows).
    private func forwardRows(_ rows: Range<Int>, batch: Int, steps: Int, input: UnsafePointer<Float>,
                             initialHidden: UnsafePointer<Float>?, initialCell: UnsafePointer<Float>?) {
        let hidden = hiddenSize, width = cell.gateCount * hidden, first = rows.lowerBound, count = rows.count
        let x = inputByTime.data, gate = gates.data, states = hiddenStates.data, bias = combinedBias.data
        for b in rows {
            for t in 0..<steps {
                (x + (t * batch + b) * inputSize).update(from: input + (b * steps + t) * inputSize, count: inputSize)
            }
        }
        let h0 = states + first * hidden
        if let initialHidden { h0.update(from: initialHidden + first * hidden, count: count * hidden) } else { h0.update(repeating: 0, count: count * hidden) }
        if cell == .lstm {
            let c0 = cellStates.data + first * hidden
            if let initialCell { c0.update(from: initialCell + first * hidden, count: count * hidden) } else { c0.update(repeating: 0, count: count * hidden) }
        }

        for t in 0..<steps {
            let block = t * batch + first  // this step's first row
            // W_ih x_t, then W_hh h_{t−1}: added to it, or (GRU) kept apart for the reset gate.
            BLAS.gemm(transposeB: true, m: count, n: width, k: inputSize, a: x + block * inputSize, lda: inputSize,
                      b: weightIH!, ldb: inputSize, beta: 0, c: gate + block * width, ldc: width)
            let isGRU = cell == .gru
            BLAS.gemm(transposeB: true, m: count, n: width, k: hidden, a: states + block * hidden, lda: hidden,
                      b: weightHH!, ldb: hidden, beta: isGRU ? 0 : 1,
                      c: isGRU ? projection.data + first * width : gate + block * width, ldc: width)
            for row in block..<block + count {
                let g = gate + row * width, previous = states + row * hidden, next = previous + batch * hidden
                switch cell {
                case .rnn:
                    GateKernels.rnnForward(g, bias: bias, hidden: next, count: hidden)
                case .lstm:
                    let c = cellStates.data + row * hidden
                    GateKernels.lstmForward(g, bias: bias, previousCell: c, cell: c + batch * hidden,
                                            cellTanh: cellTanh.data + row * hidden, hidden: next, count: hidden)
                case .gru:
                    GateKernels.gruForward(g, bias: bias, projection: projection.data + (row - t * batch) * width,
                                           hiddenBias: biasHH! + 2 * hidden, previousHidden: previous,
                                           candidate: candidate.data + row * hidden, hidden: next, count: hidden)
                }
            }
        }
        (last.data + first * hidden).update(from: states + (steps * batch + first) * hidden, count: count * hidden)
        if cell == .lstm {
            (lastCell.data + first * hidden).update(from: cellStates.data + (steps * batch + first) * hidden,
                                                    count: count * hidden)
        }
    }

    /// Copies h_1 … h_T from the time-major states into `sequence` [B, T, H].
    private func assembleSequence() {
        let batch = last.rows, hidden = hiddenSize
        let steps = max(0, hiddenStates.rows - 1)  // no forward yet: an empty sequence
        sequence.resize(to: [batch, steps, hidden])
        for b in 0..<batch {
            for t in 0..<steps {
                (sequence.data + (b * steps + t) * hidden)
                    .update(from: hiddenStates.data + ((t + 1) * batch + b) * hidden, count: hidden)
            }
        }
    }
}
