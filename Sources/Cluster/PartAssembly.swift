/// One worker's gradient of a step arriving in parts (overlap runs): gradient-part messages, the last
/// range first, then the push-gradient with the first values, put together in a pooled buffer.
struct PartAssembly {
    /// The step the parts belong to.
    let step: UInt64
    /// The parts so far cover `low..<count`.
    private(set) var low: Int
    /// Where the values go; it becomes the push's gradient.
    private let buffer: WeightSnapshots.Snapshot

    /// An assembly begun with the step's first part, which must end where the gradient ends; or why not.
    static func begin(with part: GradientPart, step: UInt64, pool: WeightSnapshots, count: Int) -> Result<PartAssembly, Problem> {
        guard part.range.upperBound == count else {
            return .failure(Problem(reason: "its values \(part.range) do not end the gradient of \(count) values, as a step's first part must"))
        }
        var assembly = PartAssembly(step: step, low: count, buffer: pool.acquire())
        if let problem = assembly.add(part) { return .failure(problem) }
        return .success(assembly)
    }

    /// Adds the next part of the step, which must end where the parts before it begin; or why not.
    mutating func add(_ part: GradientPart) -> Problem? {
        guard part.range.upperBound == low else {
            return Problem(reason: "its values \(part.range) do not end where the step's earlier parts begin (\(low))")
        }
        part.values.copy(into: UnsafeMutableBufferPointer(rebasing: buffer.buffer[part.range]))
        low = part.range.lowerBound
        return nil
    }

    /// The whole gradient, once `head` (the push's first values) fills what the parts left; or why not.
    func completed(with head: FloatPayload) -> Result<FloatPayload, Problem> {
        guard head.count == low else {
            return .failure(Problem(reason: "holds its first \(head.count) values, but the gradient-part messages of step \(step) brought the values from \(low) on"))
        }
        head.copy(into: UnsafeMutableBufferPointer(rebasing: buffer.buffer[0..<low]))
        return .success(buffer.payload)
    }

    /// Why parts do not make a gradient.
    struct Problem: Error {
        var reason: String
    }
}
