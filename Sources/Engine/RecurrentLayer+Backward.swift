/// Backpropagation through time for `RecurrentLayer`: the gate kernels step back over the time-major
/// buffers forward kept, then one product each gives ∂W_ih and ∂W_hh over all steps.
extension RecurrentLayer {
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
