import CZeroMQ

/// Facts about the libzmq the program is linked against.
public enum ZMQLibrary {
    /// The libzmq version, for example "4.3.4".
    public static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// Whether libzmq was built with `capability` ("ipc", "curve", "draft", …), via `zmq_has`.
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) == 1
    }
}
