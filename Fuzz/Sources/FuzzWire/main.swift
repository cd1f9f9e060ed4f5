import Cluster
import Foundation
import FuzzSupport

// A multipart message given as frames each preceded by a 2-byte little-endian length, decoded as
// a worker before welcome (nothing known) and as the server of a 105-parameter model with the
// seeds' fingerprint.
exit(FuzzDriver.run { input in
    var frames: [[UInt8]] = []
    var offset = 0
    while offset + 2 <= input.count, frames.count < 8 {
        let length = min(Int(input[offset]) | Int(input[offset + 1]) << 8, input.count - offset - 2)
        frames.append(Array(input[(offset + 2)..<(offset + 2 + length)]))
        offset += 2 + length
    }
    _ = try? WireMessage.decode(bytes: frames, expectedFingerprint: nil, parameterCount: nil)
    _ = try? WireMessage.decode(bytes: frames, expectedFingerprint: 0x1122_3344_5566_7788, parameterCount: 105)
})
