import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed ZeroMQ call: the errno, libzmq's message for it and what was being done.
public struct ZMQError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The errno value (`EAGAIN`, `EADDRINUSE`, `ETERM`, …) that libzmq reported.
    public let code: Int32
    /// `zmq_strerror(code)`, for example "Address already in use".
    public let message: String
    /// What the wrapper was doing, for example "bind tcp://127.0.0.1:5555".
    public let operation: String

    /// Creates an error for `code` with libzmq's message for it.
    public init(code: Int32, operation: String) {
        self.code = code
        self.message = String(cString: zmq_strerror(code))
        self.operation = operation
    }

    /// "operation: message", for example "bind tcp://127.0.0.1:5555: Address already in use".
    public var description: String { "\(operation): \(message)" }

    /// Whether the call would have blocked or its timeout expired (`EAGAIN`).
    public var isWouldBlock: Bool { code == EAGAIN }

    /// Whether the socket's context was closed (`ETERM`): the socket should be closed.
    public var isContextTerminated: Bool { code == ETERM }

    /// The error libzmq just reported on this thread (`zmq_errno()`).
    static func last(_ operation: @autoclosure () -> String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation())
    }
}
