import Transport

/// The fixed 40-byte little-endian header that is frame 0 of every protocol message.
///
/// | offset | size | field |
/// | --- | --- | --- |
/// | 0 | 4 | magic "ATPS" |
/// | 4 | 2 | protocol version |
/// | 6 | 2 | message type |
/// | 8 | 4 | sender |
/// | 12 | 4 | flags |
/// | 16 | 8 | step |
/// | 24 | 8 | model fingerprint |
/// | 32 | 8 | payload length (sum of the payload frames' sizes) |
public struct MessageHeader: Sendable, Hashable {
    /// The header's size in bytes.
    public static let size = 40
    /// The four bytes every message starts with: ASCII "ATPS".
    public static let magic: [UInt8] = Array("ATPS".utf8)
    /// The protocol version this code speaks.
    public static let currentVersion: UInt16 = 5
    /// The sender id of the parameter server.
    public static let serverSender: UInt32 = .max
    /// The sender id of a worker that has not been given a rank yet (in join).
    public static let unassignedSender: UInt32 = .max - 1

    /// The protocol version of the message.
    public var version: UInt16
    /// The message type.
    public var type: MessageType
    /// The sender's rank, `serverSender` or `unassignedSender`.
    public var sender: UInt32
    /// The message's flags.
    public var flags: MessageFlags
    /// The training step the message refers to.
    public var step: UInt64
    /// The fingerprint of the model the message refers to (0 in join and in errors before a model is known).
    public var fingerprint: UInt64
    /// The total size in bytes of the payload frames that follow the header.
    public var payloadLength: UInt64

    /// A header with every field given; `version` defaults to `currentVersion`.
    public init(
        version: UInt16 = MessageHeader.currentVersion, type: MessageType, sender: UInt32,
        flags: MessageFlags = [], step: UInt64 = 0, fingerprint: UInt64 = 0, payloadLength: UInt64 = 0
    ) {
        self.version = version
        self.type = type
        self.sender = sender
        self.flags = flags
        self.step = step
        self.fingerprint = fingerprint
        self.payloadLength = payloadLength
    }

    /// The header's 40 wire bytes.
    public var encoded: [UInt8] {
        var writer = ByteWriter(capacity: Self.size)
        writer.append(contentsOf: Self.magic)
        writer.append(version)
        writer.append(type.rawValue)
        writer.append(sender)
        writer.append(flags.rawValue)
        writer.append(step)
        writer.append(fingerprint)
        writer.append(payloadLength)
        return writer.bytes
    }

    /// Decodes and checks size, magic, version and type from `bytes`; flags and other fields are checked by `WireMessage`.
    public init(decoding bytes: [UInt8]) throws(ProtocolError) {
        guard bytes.count == Self.size else { throw .headerSize(bytes.count) }
        let magic = Array(bytes[0..<4])
        guard magic == Self.magic else { throw .badMagic(magic) }
        let fields = bytes.withUnsafeBytes { raw in
            (
                version: raw.loadLittleEndian(fromByteOffset: 4, as: UInt16.self),
                type: raw.loadLittleEndian(fromByteOffset: 6, as: UInt16.self),
                sender: raw.loadLittleEndian(fromByteOffset: 8, as: UInt32.self),
                flags: raw.loadLittleEndian(fromByteOffset: 12, as: UInt32.self),
                step: raw.loadLittleEndian(fromByteOffset: 16, as: UInt64.self),
                fingerprint: raw.loadLittleEndian(fromByteOffset: 24, as: UInt64.self),
                payloadLength: raw.loadLittleEndian(fromByteOffset: 32, as: UInt64.self)
            )
        }
        // An error keeps its layout in every version, so a peer of another version can still say why it refuses.
        guard fields.version == Self.currentVersion || fields.type == MessageType.error.rawValue else {
            throw .versionMismatch(received: fields.version, supported: Self.currentVersion)
        }
        guard let type = MessageType(rawValue: fields.type) else { throw .unknownType(fields.type) }
        self.init(
            version: fields.version, type: type, sender: fields.sender, flags: MessageFlags(rawValue: fields.flags),
            step: fields.step, fingerprint: fields.fingerprint, payloadLength: fields.payloadLength
        )
    }

    /// Decodes and checks the header in raw memory (see `init(decoding:)` for byte arrays).
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtocolError) {
        guard bytes.count == Self.size else { throw .headerSize(bytes.count) }
        try self.init(decoding: Array(bytes))
    }

    /// Decodes and checks the header in a received frame.
    public init(decoding frame: some IncomingFrame) throws(ProtocolError) {
        guard frame.count == Self.size else { throw .headerSize(frame.count) }
        try self.init(decoding: frame.bytes)
    }
}
