import CZeroMQ
import Transport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Socket {
    /// Sends `frames` as one multipart message, blocking while it cannot be queued (up to `.sendTimeout`).
    ///
    /// libzmq queues a message's frames together: once the first is accepted the rest are too, and
    /// peers receive all of them or none. An error after the first frame (the context closing) leaves
    /// the socket unusable. A ROUTER takes the peer's routing id as the first frame.
    public func send(_ frames: [Frame]) throws {
        _ = try send(frames, firstFlags: 0)
    }

    /// Sends `frames` as one multipart message without blocking; false, with nothing sent, if it cannot be queued now.
    @discardableResult
    public func trySend(_ frames: [Frame]) throws -> Bool {
        try send(frames, firstFlags: ZMQ_DONTWAIT)
    }

    /// Receives one whole message, blocking until it arrives (or `.receiveTimeout` expires: `EAGAIN`).
    ///
    /// Throws `EMSGSIZE` (after discarding the rest of the message) if it exceeds `limits`.
    public func receiveMultipart(limits: ReceiveLimits = .unlimited) throws -> [ReceivedFrame] {
        let operation = "receive on \(type) socket"
        let handle = try openHandle(operation)
        guard let first = try ReceivedFrame.receive(from: handle, flags: 0, operation: operation) else {
            throw ZMQError(code: EAGAIN, operation: "\(operation) (receive timeout expired)")
        }
        return try receiveRest(after: first, from: handle, limits: limits, operation: operation)
    }

    /// Receives one whole message if one arrives within `timeout` milliseconds (0: only if one is waiting; -1: wait forever), else nil.
    ///
    /// Ignores `.receiveTimeout`; throws `EMSGSIZE` (after discarding the message) if it exceeds `limits`.
    public func receiveMultipart(timeout: Int, limits: ReceiveLimits = .unlimited) throws -> [ReceivedFrame]? {
        let operation = "receive on \(type) socket"
        let handle = try openHandle(operation)
        let deadline = Deadline(milliseconds: timeout)
        while true {
            if let first = try ReceivedFrame.receive(from: handle, flags: ZMQ_DONTWAIT, operation: operation) {
                return try receiveRest(after: first, from: handle, limits: limits, operation: operation)
            }
            let wait = deadline.remainingMilliseconds
            if wait == 0 { return nil }
            var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
            // A wake-up without a message (EINTR, or readiness for a message libzmq then filters out) loops.
            if zmq_poll(&item, 1, wait) == -1 && zmq_errno() != EINTR {
                throw ZMQError.last("\(operation): poll")
            }
        }
    }

    /// Receives one whole message only if one is waiting now, else nil.
    public func tryReceiveMultipart(limits: ReceiveLimits = .unlimited) throws -> [ReceivedFrame]? {
        try receiveMultipart(timeout: 0, limits: limits)
    }

    private func send(_ frames: [Frame], firstFlags: Int32) throws -> Bool {
        let operation = "send on \(type) socket"
        let handle = try openHandle(operation)
        guard !frames.isEmpty else { throw ZMQError(code: EINVAL, operation: "\(operation): a message needs a frame") }
        let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        defer { message.deallocate() }
        for (index, frame) in frames.enumerated() {
            var flags = index == 0 ? firstFlags : 0
            if index < frames.count - 1 { flags |= ZMQ_SNDMORE }
            try frame.initialize(message)
            while zmq_msg_send(message, handle, flags) == -1 {
                let code = zmq_errno()
                if code == EINTR { continue }
                // Not sent: closing releases the bytes (and a zero-copy frame's owner).
                zmq_msg_close(message)
                if code == EAGAIN && index == 0 && firstFlags & ZMQ_DONTWAIT != 0 { return false }
                throw ZMQError(code: code, operation: "\(operation) (frame \(index + 1) of \(frames.count))")
            }
        }
        return true
    }

    private func receiveRest(
        after first: ReceivedFrame, from handle: UnsafeMutableRawPointer, limits: ReceiveLimits, operation: String
    ) throws -> [ReceivedFrame] {
        var frames = [first]
        var bytes = first.count
        var more = first.hasMore
        var exceeded = ReceiveLimits.exceeded(frames: 1, bytes: bytes, limits)
        while more {
            // The rest of a message is already here: libzmq delivers all frames of a message or none.
            guard let frame = try ReceivedFrame.receive(from: handle, flags: 0, operation: operation) else {
                throw ZMQError(code: EAGAIN, operation: "\(operation): rest of the message")
            }
            more = frame.hasMore
            bytes += frame.count
            if exceeded == nil {
                frames.append(frame)
                exceeded = ReceiveLimits.exceeded(frames: frames.count, bytes: bytes, limits)
            }
        }
        if let exceeded {
            throw ZMQError(code: EMSGSIZE, operation: "\(operation): message discarded, \(exceeded)")
        }
        return frames
    }
}

extension ReceiveLimits {
    /// Which limit a message of `frames` frames and `bytes` bytes so far exceeds, or nil.
    static func exceeded(frames: Int, bytes: Int, _ limits: ReceiveLimits) -> String? {
        if frames > limits.maxFrames { return "more than \(limits.maxFrames) frames" }
        if bytes > limits.maxBytes { return "more than \(limits.maxBytes) bytes" }
        return nil
    }
}
