/// Sane bounds a decoder enforces on values a peer sends, so a hostile or broken peer cannot make us allocate or loop absurdly.
public struct ProtocolLimits: Sendable, Equatable {
    /// The hard maximum payload of any message: 2 GiB (512 Mi floats).
    public static let maximumPayloadBytes = 1 << 31
    /// The most bytes a JSON frame (configuration, data-set description) may have.
    public static let maximumJSONBytes = 64 * 1024
    /// The most bytes an error reason may have.
    public static let maximumReasonBytes = 4096
    /// The most payload frames any message type has (welcome: assignment, configuration, weights).
    public static let maximumPayloadFrames = 3

    /// The largest step accepted.
    public var maxStep: UInt64
    /// The largest sample count accepted in a gradient push, an evaluation result or a data-set size.
    public var maxSampleCount: Int
    /// The largest world size (number of workers) accepted.
    public var maxWorldSize: Int

    /// Limits with the given bounds; the defaults suit any realistic training run.
    public init(maxStep: UInt64 = 1 << 48, maxSampleCount: Int = 1 << 30, maxWorldSize: Int = 65_536) {
        self.maxStep = maxStep
        self.maxSampleCount = maxSampleCount
        self.maxWorldSize = maxWorldSize
    }

    /// The default limits.
    public static let standard = ProtocolLimits()

    /// The most payload bytes a message about a model of `parameterCount` floats can carry.
    public static func maximumPayloadBytes(parameterCount: Int) -> Int {
        // welcome: assignment + configuration + weights; push-gradient: statistics + gradient;
        // setup: configuration + data-set description.
        // An encoded vector may be larger than float32 (top-k of every value: 4 + 8 per value).
        min(maximumPayloadBytes, 8 + 2 * maximumJSONBytes + maximumEncodedBytes(parameterCount: parameterCount))
    }

    /// The largest frame a codec writes for a vector of `parameterCount` floats: top-k keeping every
    /// value, 4 + 8 bytes per value (float32 takes 4, bf16 and fp16 2).
    public static func maximumEncodedBytes(parameterCount: Int) -> Int {
        min(maximumPayloadBytes, 4 + 8 * parameterCount)
    }

    /// The largest single frame a message about a model of `parameterCount` floats can have
    /// (a weights or gradient frame, or a JSON frame): the bound for `SocketOption.maxMessageSize`.
    public static func maximumFrameBytes(parameterCount: Int) -> Int {
        min(maximumPayloadBytes, max(maximumJSONBytes, maximumReasonBytes, maximumEncodedBytes(parameterCount: parameterCount)))
    }
}
