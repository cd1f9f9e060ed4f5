import Engine
import Transport

extension ReceiveLimits {
    /// Receive limits for a server's ROUTER (identity + header + payload frames) with a model of `parameterCount` floats.
    public static func parameterServer(parameterCount: Int) -> ReceiveLimits {
        ReceiveLimits(
            maxFrames: 2 + ProtocolLimits.maximumPayloadFrames,
            maxBytes: 255 + MessageHeader.size + ProtocolLimits.maximumPayloadBytes(parameterCount: parameterCount)
        )
    }

    /// Receive limits for a worker's DEALER (header + payload frames), before the model size is known.
    public static var worker: ReceiveLimits {
        ReceiveLimits(
            maxFrames: 1 + ProtocolLimits.maximumPayloadFrames,
            maxBytes: MessageHeader.size + ProtocolLimits.maximumPayloadBytes
        )
    }
}

extension ReceiveLimits {
    /// Receive limits for a server's ROUTER serving `model`.
    public static func parameterServer(for model: Model) -> ReceiveLimits {
        parameterServer(parameterCount: model.parameterCount)
    }
}
