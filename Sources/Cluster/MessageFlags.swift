/// The bit flags at offset 12 of the header; bits not defined here must be zero.
public struct MessageFlags: OptionSet, Sendable, Hashable {
    /// The flag bits as sent on the wire.
    public let rawValue: UInt32

    /// Creates flags from their wire bits.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// Push-gradient only: the sender has no samples left in the current epoch.
    public static let endOfEpoch = MessageFlags(rawValue: 1 << 0)

    /// Push-gradient only: the vector frame is written with the run's push codec
    /// (`TrainingConfiguration.compress`), not as float32 values.
    public static let encoded = MessageFlags(rawValue: 1 << 1)

    /// Push-gradient only: the gradient frame holds only the first values of the gradient; the
    /// rest went ahead in gradient-part messages of the same step.
    public static let partsSent = MessageFlags(rawValue: 1 << 2)

    /// Every flag this protocol version defines.
    public static let all: MessageFlags = [.endOfEpoch, .encoded, .partsSent]
}
