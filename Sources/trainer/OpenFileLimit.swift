#if canImport(Glibc)
import Glibc
#endif

/// The process's open-file limit, which bounds how many connections a server can hold.
enum OpenFileLimit {
    /// Below this many descriptors a server warns that a flood of idle connections can exhaust it.
    static let comfortable: UInt64 = 4096

    /// Raises the soft limit to the hard limit (every connection takes a descriptor, and a server out
    /// of them can accept no worker); returns the limit in effect, or nil if it cannot be read.
    @discardableResult
    static func raiseToHardLimit() -> UInt64? {
        var limit = rlimit()
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { return UInt64(raised.rlim_max) }
        }
        return UInt64(limit.rlim_cur)
    }

    /// A warning for a server whose limit stays low after `raiseToHardLimit()`, or nil.
    static func warning(limit: UInt64?) -> String? {
        guard let limit, limit < comfortable else { return nil }
        return "trainer: the open-file limit is \(limit), and the hard limit allows no more: each connection takes a "
            + "descriptor, so a flood of idle connections could keep workers out until the server closes them "
            + "(10 s without a finished handshake); raise it with ulimit -n or systemd's LimitNOFILE="
    }
}
