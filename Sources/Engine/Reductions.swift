/// The sum of `count` floats, with sixteen running partial sums so the loop vectorises
/// (a single accumulator is one dependent add per element).
@inline(__always)
func sum(_ values: UnsafePointer<Float>, count: Int) -> Float {
    var partial = SIMD16<Float>(repeating: 0)
    var i = 0
    while i &+ 16 <= count {
        partial += UnsafeRawPointer(values + i).loadUnaligned(as: SIMD16<Float>.self)
        i &+= 16
    }
    var total = partial.sum()
    while i < count {
        total += values[i]
        i &+= 1
    }
    return total
}

/// Whether any of `count` floats is NaN, in one vectorised pass.
@inline(__always)
func containsNaN(_ values: UnsafePointer<Float>, count: Int) -> Bool {
    var found: UInt8 = 0
    for i in 0..<count {
        let value = values[i]
        found |= value != value ? 1 : 0
    }
    return found != 0
}
