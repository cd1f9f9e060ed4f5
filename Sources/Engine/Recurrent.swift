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

    private var weightIH: UnsafeMutablePointer<Float>?
    private var weightHH: UnsafeMutablePointer<Float>?
    private var biasIH: UnsafeMutablePointer<Float>?
    private var biasHH: UnsafeMutablePointer<Float>?
    private var weightIHGradient: UnsafeMutablePointer<Float>?
    private var weightHHGradient: UnsafeMutablePointer<Float>?
    private var biasIHGradient: UnsafeMutablePointer<Float>?
    private var biasHHGradient: UnsafeMutablePointer<Float>?

    // Kept by forward, time-major: row (t, b) of a [T, B, ·] tensor is row t·B + b.
    private let inputByTime = Tensor()   // [T, B, I]: the input
    private let gates = Tensor()         // [T, B, G·H]: projections, then the gate activations (RNN: pre-activations)
    private let hiddenStates = Tensor()  // [T + 1, B, H]: h₀, h₁, …, h_T
    private let cellStates = Tensor()    // LSTM [T + 1, B, H]: c₀, c₁, …, c_T
    private let cellTanh = Tensor()      // LSTM [T, B, H]: tanh(c_t)
    private let candidate = Tensor()     // GRU [T, B, H]: W_hn h_{t−1} + b_hn
    private let projection = Tensor()    // GRU [B, G·H]: W_hh h_{t−1} at the current step
    private let combinedBias = Tensor()  // [G·H]: b_ih + b_hh (for the GRU's n gate, b_in alone)
    private let last = Tensor()          // [B, H]: h_T, the output
    fileprivate let lastCell = Tensor()  // LSTM [B, H]: c_T
    private let sequence = Tensor()      // [B, T, H], assembled on demand
    private var sequenceIsCurrent = false
    private var savedSize: (batch: Int, steps: Int)?  // set by a training-mode forward

    // Made by backward.
    private let gateGradients = Tensor()        // [T, B, G·H]: ∂loss/∂ input-side pre-activations
    private let hiddenGateGradients = Tensor()  // GRU [T, B, G·H]: ∂loss/∂(W_hh h + b_hh)
    private let hiddenGradient = Tensor()       // [B, H]: ∂loss/∂h_t while stepping back, ∂loss/∂h₀ at the end
    fileprivate let cellGradient = Tensor()     // LSTM [B, H]: likewise for c
    private let inputGradient = Tensor()        // [B, T, I]
    // Per pool part, G·H values for the input side and (GRU) G·H for the hidden side: the bias-gradient
    // totals over all steps, and the sums of the current step that are added to them.
    private var biasTotals: UnsafeMutablePointer<Double>
    private var biasStepSums: UnsafeMutablePointer<Float>
    private var biasScratchCapacity = 0

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
    private func partCount(batch: Int) -> Int {
        min(ComputePool.shared.threadCount, max(1, batch / Self.rowsPerPart))
    }

    /// Rows `part` of `parts` of a batch.
    private func partRows(_ part: Int, of parts: Int, batch: Int) -> Range<Int> {
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

    // MARK: Backward

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard let (batch, steps) = savedSize else { preconditionFailure("\(cell).backward without a training-mode forward") }
        let hidden = hiddenSize, width = cell.gateCount * hidden
        precondition(outputGradient.count == batch * hidden,
                     "\(cell): output gradient has shape \(outputGradient.shape), expected [\(batch), \(hidden)]")
        gateGradients.resize(to: [steps, batch, width])
        if cell == .gru { hiddenGateGradients.resize(to: [steps, batch, width]) }
        hiddenGradient.resize(to: [batch, hidden])
        hiddenGradient.data.update(from: outputGradient.data, count: batch * hidden)
        if cell == .lstm {
            cellGradient.resize(to: [batch, hidden])
            cellGradient.zero()
        }
        if needsInputGradient { inputGradient.resize(to: [batch, steps, inputSize]) }

        let parts = partCount(batch: batch)
        let perPart = (cell == .gru ? 2 : 1) * width
        if parts * perPart > biasScratchCapacity {
            biasTotals.deallocate()
            biasStepSums.deallocate()
            biasScratchCapacity = parts * perPart
            biasTotals = .allocate(capacity: biasScratchCapacity)
            biasStepSums = .allocate(capacity: biasScratchCapacity)
        }
        let totals = biasTotals, stepSums = biasStepSums
        ComputePool.shared.run(parts: parts) { part in
            backwardRows(partRows(part, of: parts, batch: batch), batch: batch, steps: steps,
                         needsInputGradient: needsInputGradient, biasTotals: totals + part * perPart,
                         stepSums: stepSums + part * perPart)
        }

        // Bias gradients: the parts' totals over (time, batch) of the pre-activation gradients. For the
        // RNN and LSTM both biases have the input side's; the GRU's b_hh has its hidden side's.
        for k in 0..<perPart {
            var total: Double = 0
            for part in 0..<parts { total += totals[part * perPart + k] }
            if k < width {
                biasIHGradient![k] += Float(total)
                if cell != .gru { biasHHGradient![k] += Float(total) }
            } else {
                biasHHGradient![k - width] += Float(total)
            }
        }

        // Weight gradients over all steps at once: ∂W_ih += Gᵀ·X and ∂W_hh += G_hᵀ·[h₀ … h_{T−1}], rows (t, b).
        let allRows = steps * batch
        BLAS.gemm(transposeA: true, m: width, n: inputSize, k: allRows, a: gateGradients.data, lda: width,
                  b: inputByTime.data, ldb: inputSize, beta: 1, c: weightIHGradient!, ldc: inputSize)
        BLAS.gemm(transposeA: true, m: width, n: hidden, k: allRows,
                  a: cell == .gru ? hiddenGateGradients.data : gateGradients.data, lda: width,
                  b: hiddenStates.data, ldb: hidden, beta: 1, c: weightHHGradient!, ldc: hidden)
        return needsInputGradient ? inputGradient : nil
    }

    /// Backpropagates through time for a block of batch rows: writes their pre-activation gradients (and
    /// input gradients), leaves ∂loss/∂h₀ (and ∂loss/∂c₀) in their rows, and totals their bias gradients.
    private func backwardRows(_ rows: Range<Int>, batch: Int, steps: Int, needsInputGradient: Bool,
                              biasTotals: UnsafeMutablePointer<Double>, stepSums: UnsafeMutablePointer<Float>) {
        let hidden = hiddenSize, width = cell.gateCount * hidden, first = rows.lowerBound, count = rows.count
        let sides = cell == .gru ? 2 : 1
        let dh = hiddenGradient.data + first * hidden
        let recurrent = cell == .gru ? hiddenGateGradients.data : gateGradients.data
        biasTotals.update(repeating: 0, count: sides * width)
        for t in stride(from: steps - 1, through: 0, by: -1) {
            let block = t * batch + first
            stepSums.update(repeating: 0, count: sides * width)
            for b in 0..<count {
                let row = block + b
                let g = gates.data + row * width, dg = gateGradients.data + row * width, dhRow = dh + b * hidden
                switch cell {
                case .rnn:
                    GateKernels.rnnBackward(hidden: hiddenStates.data + (row + batch) * hidden, hiddenGradient: dhRow,
                                            gateGradients: dg, sums: stepSums, count: hidden)
                case .lstm:
                    GateKernels.lstmBackward(g, previousCell: cellStates.data + row * hidden,
                                             cellTanh: cellTanh.data + row * hidden, hiddenGradient: dhRow,
                                             cellGradient: cellGradient.data + (first + b) * hidden,
                                             gateGradients: dg, sums: stepSums, count: hidden)
                case .gru:
                    GateKernels.gruBackward(g, candidate: candidate.data + row * hidden,
                                            previousHidden: hiddenStates.data + row * hidden, hiddenGradient: dhRow,
                                            gateGradients: dg, hiddenGateGradients: hiddenGateGradients.data + row * width,
                                            sums: stepSums, count: hidden)
                }
            }
            for j in 0..<sides * width { biasTotals[j] += Double(stepSums[j]) }
            if needsInputGradient {
                // ∂x_t = G_t·W_ih, written straight into the batch-first input gradient (row stride T·I).
                BLAS.gemm(m: count, n: inputSize, k: width, a: gateGradients.data + block * width, lda: width,
                          b: weightIH!, ldb: inputSize, beta: 0,
                          c: inputGradient.data + (first * steps + t) * inputSize, ldc: steps * inputSize)
            }
            // ∂h_{t−1} = (GRU: z∘∂h_t, already in dh, +) G_h,t·W_hh.
            BLAS.gemm(m: count, n: hidden, k: width, a: recurrent + block * width, lda: width, b: weightHH!,
                      ldb: hidden, beta: cell == .gru ? 1 : 0, c: dh, ldc: hidden)
        }
    }
}

/// PyTorch's `nn.RNN(inputSize, hiddenSize, batch_first=True)` with tanh: h_t = tanh(W_ih x_t + b_ih +
/// W_hh h_{t−1} + b_hh). `forward` returns the last step's hidden state; see `RecurrentLayer`.
public final class RNN: RecurrentLayer {
    /// Creates the layer; `Model` initialises its parameters as PyTorch does.
    public init(inputSize: Int, hiddenSize: Int) {
        super.init(cell: .rnn, inputSize: inputSize, hiddenSize: hiddenSize)
    }
}

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

/// The fused element-wise work of one time step for one batch row, eight lanes at a time.
///
/// Gate pointers address a row of G·H pre-activations (gate k at offset k·H). Each kernel runs its
/// `step` on full blocks of eight, then once on a row's tail of fewer than eight, which goes through the
/// same vector code with the missing lanes zero.
enum GateKernels {
    typealias Lanes = GateMath.Lanes
    /// The lanes per block (a computed constant, so that tests against it fold away).
    @inline(__always) static var width: Int { Lanes.scalarCount }

    /// Runs `step(start, lanes)` over 0..<count: full blocks of `width`, then the shorter tail.
    @inline(__always)
    static func forEachBlock(_ count: Int, _ step: (Int, Int) -> Void) {
        var j = 0
        while j + width <= count {
            step(j, width)
            j += width
        }
        if j < count { step(j, count - j) }
    }

    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>, _ count: Int) -> Lanes {
        if count == width { return UnsafeRawPointer(pointer).loadUnaligned(as: Lanes.self) }
        var lanes = Lanes()
        for k in 0..<count { lanes[k] = pointer[k] }
        return lanes
    }

    @inline(__always)
    static func store(_ lanes: Lanes, _ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
        if count == width {
            UnsafeMutableRawPointer(pointer).storeBytes(of: lanes, as: Lanes.self)
        } else {
            for k in 0..<count { pointer[k] = lanes[k] }
        }
    }

    @inline(__always)
    static func add(_ lanes: Lanes, into pointer: UnsafeMutablePointer<Float>, _ count: Int) {
        store(load(pointer, count) + lanes, pointer, count)
    }

    /// h = tanh(a + bias), a kept as the step's pre-activation.
    @inline(__always)
    static func rnnForward(_ a: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
                           hidden: UnsafeMutablePointer<Float>, count: Int) {
        @inline(__always) func step(_ j: Int, _ n: Int) {
            let sum = load(a + j, n) + load(bias + j, n)
            store(sum, a + j, n)
            store(GateMath.tanh(sum), hidden + j, n)
        }
        forEachBlock(count, step)
    }

    /// i, f, o = σ(·), g = tanh(·) (kept in place); c = f∘c_{t−1} + i∘g; h = o∘tanh(c).
    @inline(__always)
    static func lstmForward(_ gates: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
                            previousCell: UnsafePointer<Float>, cell: UnsafeMutablePointer<Float>,
                            cellTanh: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>, count: Int) {
        let h = count
        @inline(__always) func step(_ j: Int, _ n: Int) {
            let i = GateMath.sigmoid(load(gates + j, n) + load(bias + j, n))
            let f = GateMath.sigmoid(load(gates + h + j, n) + load(bias + h + j, n))
            let g = GateMath.tanh(load(gates + 2 * h + j, n) + load(bias + 2 * h + j, n))
            let o = GateMath.sigmoid(load(gates + 3 * h + j, n) + load(bias + 3 * h + j, n))
            store(i, gates + j, n)
            store(f, gates + h + j, n)
            store(g, gates + 2 * h + j, n)
            store(o, gates + 3 * h + j, n)
            let c = f * load(previousCell + j, n) + i * g
            let tc = GateMath.tanh(c)
            store(c, cell + j, n)
            store(tc, cellTanh + j, n)
            store(o * tc, hidden + j, n)
        }
        forEachBlock(count, step)
    }

    /// r, z = σ(x-side + bias + h-side); n = tanh(x-side + b_in + r∘(W_hn h + b_hn)); h = n + z∘(h_{t−1} − n).
    @inline(__always)
    static func gruForward(_ gates: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
                           projection: UnsafePointer<Float>, hiddenBias: UnsafePointer<Float>,
                           previousHidden: UnsafePointer<Float>, candidate: UnsafeMutablePointer<Float>,
                           hidden: UnsafeMutablePointer<Float>, count: Int) {
        let h = count
        @inline(__always) func step(_ j: Int, _ n: Int) {
            let r = GateMath.sigmoid(load(gates + j, n) + load(bias + j, n) + load(projection + j, n))
            let z = GateMath.sigmoid(load(gates + h + j, n) + load(bias + h + j, n) + load(projection + h + j, n))
            let hn = load(projection + 2 * h + j, n) + load(hiddenBias + j, n)
            let c = GateMath.tanh(load(gates + 2 * h + j, n) + load(bias + 2 * h + j, n) + r * hn)
            store(r, gates + j, n)
            store(z, gates + h + j, n)
            store(c, gates + 2 * h + j, n)
            store(hn, candidate + j, n)
            store(c + z * (load(previousHidden + j, n) - c), hidden + j, n)
        }
        forEachBlock(count, step)
    }

    /// ∂a = ∂h ∘ (1 − h²); adds ∂a to the step's bias sums.
    @inline(__always)
    static func rnnBackward(hidden: UnsafePointer<Float>, hiddenGradient: UnsafePointer<Float>,
                            gateGradients: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>, count: Int) {
        @inline(__always) func step(_ j: Int, _ n: Int) {
            let y = load(hidden + j, n)
            let da = load(hiddenGradient + j, n) * (1 - y * y)
            store(da, gateGradients + j, n)
            add(da, into: sums + j, n)
        }
        forEachBlock(count, step)
    }

    /// From ∂h_t and ∂c_t (carried from later steps): the gate pre-activation gradients; ∂c becomes ∂c_{t−1}.
    @inline(__always)
    static func lstmBackward(_ gates: UnsafePointer<Float>, previousCell: UnsafePointer<Float>,
                             cellTanh: UnsafePointer<Float>, hiddenGradient: UnsafePointer<Float>,
                             cellGradient: UnsafeMutablePointer<Float>, gateGradients: UnsafeMutablePointer<Float>,
                             sums: UnsafeMutablePointer<Float>, count: Int) {
        let h = count
        @inline(__always) func step(_ j: Int, _ n: Int) {
            let i = load(gates + j, n), f = load(gates + h + j, n)
            let g = load(gates + 2 * h + j, n), o = load(gates + 3 * h + j, n)
            let tc = load(cellTanh + j, n), dh = load(hiddenGradient + j, n)
            let dc = load(cellGradient + j, n) + dh * o * (1 - tc * tc)
            let di = dc * g * i * (1 - i)
            let df = dc * load(previousCell + j, n) * f * (1 - f)
            let dg = dc * i * (1 - g * g)
            let dO = dh * tc * o * (1 - o)
            store(di, gateGradients + j, n)
            store(df, gateGradients + h + j, n)
            store(dg, gateGradients + 2 * h + j, n)
            store(dO, gateGradients + 3 * h + j, n)
            add(di, into: sums + j, n)
            add(df, into: sums + h + j, n)
            add(dg, into: sums + 2 * h + j, n)
            add(dO, into: sums + 3 * h + j, n)
            store(dc * f, cellGradient + j, n)
        }
        forEachBlock(count, step)
    }

    /// From ∂h_t: the input-side gradients (r, z, n pre-activations), the hidden-side ones (r, z, and
    /// r∘∂n for W_hn h + b_hn), their bias sums (hidden side at `sums + G·H`); ∂h becomes z∘∂h_t.
    @inline(__always)
    static func gruBackward(_ gates: UnsafePointer<Float>, candidate: UnsafePointer<Float>,
                            previousHidden: UnsafePointer<Float>, hiddenGradient: UnsafeMutablePointer<Float>,
                            gateGradients: UnsafeMutablePointer<Float>,
                            hiddenGateGradients: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>,
                            count: Int) {
        let h = count, hiddenSums = sums + 3 * count
        @inline(__always) func step(_ j: Int, _ n: Int) {
            let r = load(gates + j, n), z = load(gates + h + j, n), c = load(gates + 2 * h + j, n)
            let dh = load(hiddenGradient + j, n)
            let dn = dh * (1 - z) * (1 - c * c)
            let dr = dn * load(candidate + j, n) * r * (1 - r)
            let dz = dh * (load(previousHidden + j, n) - c) * z * (1 - z)
            let dhn = dn * r
            store(dr, gateGradients + j, n)
            store(dz, gateGradients + h + j, n)
            store(dn, gateGradients + 2 * h + j, n)
            store(dr, hiddenGateGradients + j, n)
            store(dz, hiddenGateGradients + h + j, n)
            store(dhn, hiddenGateGradients + 2 * h + j, n)
            add(dr, into: sums + j, n)
            add(dz, into: sums + h + j, n)
            add(dn, into: sums + 2 * h + j, n)
            add(dr, into: hiddenSums + j, n)
            add(dz, into: hiddenSums + h + j, n)
            add(dhn, into: hiddenSums + 2 * h + j, n)
            store(dh * z, hiddenGradient + j, n)
        }
        forEachBlock(count, step)
    }
}

/// Float32 exp, sigmoid and tanh on eight lanes, branch-free in plain arithmetic (a call to the C
/// library's `expf`/`tanhf` per element would not vectorise). Accurate to a few ulp (worst measured:
/// exp 0.9, sigmoid 2.2, tanh 4.5); the tests measure them against Float64 over their whole range.
enum GateMath {
    typealias Lanes = SIMD8<Float>
    typealias Bits = SIMD8<UInt32>

    /// e^x for x clamped to [−87, 88] (Cephes' `expf`): 2ⁿ·e^r with n = round(x/ln 2), |r| ≤ ln 2 / 2.
    @inline(__always)
    static func exp(_ x: Lanes) -> Lanes {
        // (Comparisons and `replacing` inline; `clamped` calls the generic pointwiseMin/Max.)
        let x = x.replacing(with: -87, where: x .< -87).replacing(with: 88, where: x .> 88)
        // Adding 1.5·2²³ rounds to an integer and leaves n in the low mantissa bits.
        let shifter: Float = 12_582_912
        let shifted = x * 1.442_695_04 + shifter
        let n = shifted - shifter
        let r = (x - n * 0.693_359_375) + n * 2.121_944_4e-4  // x − n·ln 2, ln 2 in two parts
        var p = r * 1.987_569_15e-4 + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        p = p * (r * r) + r + 1
        // 2ⁿ built from its exponent bits: n + 127 lies in [1, 254] for the clamped range.
        let bits = (unsafeBitCast(shifted, to: Bits.self) &- shifter.bitPattern &+ 127) &<< 23
        return p * unsafeBitCast(bits, to: Lanes.self)
    }

    /// 1 / (1 + e^−x).
    @inline(__always)
    static func sigmoid(_ x: Lanes) -> Lanes {
        1 / (1 + exp(-x))
    }

    /// tanh x as the odd/even rational minimax approximation p(x)/q(x) of degrees 13 and 6 that Eigen,
    /// XLA and ONNX Runtime use, with x clamped to ±7.905 (where tanh rounds to ±1 in Float32). Odd in
    /// x, so small arguments keep their relative accuracy; no exp and no branch.
    @inline(__always)
    static func tanh(_ x: Lanes) -> Lanes {
        let bound: Float = 7.905_311_107_635_498_05
        let x = x.replacing(with: -bound, where: x .< -bound).replacing(with: bound, where: x .> bound)
        let s = x * x
        var p = s * -2.760_768_477_423_55e-16 + 2.000_187_904_824_77e-13
        p = p * s - 8.604_671_522_137_35e-11
        p = p * s + 5.122_297_090_371_14e-08
        p = p * s + 1.485_722_357_179_79e-05
        p = p * s + 6.372_619_288_754_36e-04
        p = p * s + 4.893_524_558_917_86e-03
        var q = s * 1.198_258_394_667_02e-06 + 1.185_347_056_866_54e-04
        q = q * s + 2.268_434_632_439_00e-03
        q = q * s + 4.893_525_185_543_85e-03
        return x * p / q
    }
}
