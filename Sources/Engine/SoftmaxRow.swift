import Foundation

/// The softmax of one row shifted by the row's maximum, shared by `Softmax` and `CrossEntropyLoss`.
enum SoftmaxRow {
    /// Writes softmax(x) into `y` and returns the row's maximum and Σ exp(x − maximum), from which
    /// log-softmax follows: log p_j = x_j − maximum − log(sum).
    @inline(__always) @discardableResult
    static func write(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) -> (maximum: Float, sum: Float) {
        var largest = -Float.infinity
        for j in 0..<count { largest = max(largest, x[j]) }
        var sum: Float = 0
        for j in 0..<count {
            y[j] = expf(x[j] - largest)
            sum += y[j]
        }
        let scale = 1 / sum
        for j in 0..<count { y[j] *= scale }
        return (largest, sum)
    }
}
