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
