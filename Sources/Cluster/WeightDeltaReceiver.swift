import Engine

/// A worker's replica of the weights when they travel as compressed deltas: whole weights replace
/// it, a weights-delta frame is decoded (checked by the codec) and added to it, exactly as the
/// server's mirror (`WeightReplicas`) does, so the two stay equal bit for bit.
final class WeightDeltaReceiver: @unchecked Sendable {
    // Unchecked: written only on the worker's thread; a payload of `values` is read only before
    // the next message changes it (the worker copies it into its model at the start of a step).

    /// The codec of the deltas.
    let codec: any Codec
    private let buffers: (values: FloatBuffer, decoded: FloatBuffer)
    private var values: UnsafeMutableBufferPointer<Float> { buffers.values.values }
    private var decoded: UnsafeMutableBufferPointer<Float> { buffers.decoded.values }
    /// Whether whole weights have been received (a delta before them has nothing to add to).
    private(set) var isSet = false

    /// A replica of `count` floats whose deltas are written with `codec`.
    init(codec: any Codec, count: Int) {
        self.codec = codec
        buffers = (FloatBuffer(count: count), FloatBuffer(count: count))
    }

    /// The number of floats.
    var count: Int { values.count }

    /// The replica as a zero-copy payload, valid until the next message changes it.
    var payload: FloatPayload { .borrowed(UnsafeBufferPointer(values), owner: self) }

    /// The replica becomes `weights`.
    func reset(to weights: FloatPayload) {
        weights.copy(into: values)
        isSet = true
    }

    /// Adds the delta `frame` to the replica; the error, if the frame is not one of the codec for
    /// `count` floats or no whole weights came before it (the replica is left as it was).
    func apply(_ frame: EncodedVector) -> String? {
        guard isSet else { return "a weights-delta arrived before any whole weights" }
        if let problem = frame.decode(with: codec, into: decoded) { return "\(problem)" }
        Self.add(UnsafeBufferPointer(decoded), to: values)
        return nil
    }

    /// `target[i] = target[i] + delta[i]`: the one operation server and worker both apply.
    static func add(_ delta: UnsafeBufferPointer<Float>, to target: UnsafeMutableBufferPointer<Float>) {
        for index in 0..<min(delta.count, target.count) { target[index] = target[index] + delta[index] }
    }
}
