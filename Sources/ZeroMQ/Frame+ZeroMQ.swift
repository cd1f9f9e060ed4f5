import CZeroMQ
import Transport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Frame {
    /// Initialises `message` with this frame's bytes; the caller sends or closes it.
    func initialize(_ message: UnsafeMutablePointer<zmq_msg_t>) throws {
        switch storage {
        case .bytes(let bytes):
            try bytes.withUnsafeBytes { try Frame.initialize(message, copying: $0) }
        case .floats(let floats):
            try floats.withUnsafeBytes { try Frame.initialize(message, copying: $0) }
        case .noCopy(let bytes, let owner):
            // Balanced by the release in the free callback, which libzmq calls exactly once when the
            // message's last reference goes (possibly on its I/O thread).
            let retained = Unmanaged.passRetained(owner).toOpaque()
            let result = zmq_msg_init_data(
                message, UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count,
                { _, hint in
                    if let hint { Unmanaged<AnyObject>.fromOpaque(hint).release() }
                },
                retained
            )
            if result != 0 {
                Unmanaged<AnyObject>.fromOpaque(retained).release()
                throw ZMQError.last("create a zero-copy frame of \(bytes.count) bytes")
            }
        }
    }

    private static func initialize(_ message: UnsafeMutablePointer<zmq_msg_t>, copying bytes: UnsafeRawBufferPointer) throws {
        if zmq_msg_init_size(message, bytes.count) != 0 {
            throw ZMQError.last("create a frame of \(bytes.count) bytes")
        }
        if let source = bytes.baseAddress, bytes.count > 0 {
            zmq_msg_data(message).copyMemory(from: source, byteCount: bytes.count)
        }
    }
}
