/// The endpoint `trainer server --bind` listens on, checked before ZeroMQ sees it: ZeroMQ reads a
/// port beyond 65535 modulo 65536 and a host name as a network interface name.
struct BindEndpoint {
    /// The endpoint to hand to ZeroMQ (`localhost` becomes 127.0.0.1).
    let endpoint: String
    /// Whether only this host can reach it: loopback tcp (an address or the `lo` interface), ipc or inproc.
    let isLocal: Bool

    /// Checks `text`: a tcp endpoint needs a host and a port 1…65535, or `*` or 0; throws naming `--bind`.
    init(_ text: String) throws {
        guard text.hasPrefix("tcp://") else {
            endpoint = text
            isLocal = true
            return
        }
        let address = text.dropFirst("tcp://".count)
        let host: Substring, port: Substring
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]"), address[address.index(after: close)...].hasPrefix(":") else {
                throw CLIError("--bind \(text): expected tcp://[IPv6-ADDRESS]:PORT")
            }
            host = address[address.index(after: address.startIndex)..<close]
            port = address[address.index(close, offsetBy: 2)...]
        } else {
            guard let colon = address.lastIndex(of: ":") else { throw CLIError("--bind \(text): expected tcp://HOST:PORT") }
            host = address[..<colon]
            port = address[address.index(after: colon)...]
        }
        guard !host.isEmpty else { throw CLIError("--bind \(text): no host (use * for every interface, or 127.0.0.1)") }
        guard port == "*" || (Int(port).map { (0...65535).contains($0) } ?? false) else {
            throw CLIError("--bind \(text): the port must be a number from 1 to 65535, or * (or 0) for one the system picks")
        }
        if host == "localhost" {
            // ZeroMQ would look for a network interface called "localhost" and fail with "No such device".
            endpoint = "tcp://127.0.0.1:\(port)"
        } else {
            endpoint = text
        }
        isLocal = host == "localhost" || host == "lo" || host == "::1" || host.hasPrefix("127.")
    }
}
