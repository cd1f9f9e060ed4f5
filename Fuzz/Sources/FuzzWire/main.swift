import Cluster
import Foundation
import FuzzSupport

// A multipart message given as frames each preceded by a 2-byte little-endian length, decoded as
// a worker before welcome (nothing known) and as the server of a 105-parameter model with the
// seeds' fingerprint; a codec frame it carries (an encoded push, a weights-delta) is then decoded
// with every codec, as the server and a worker decode them.
let codecs: [any Codec] = [DenseCodec(), BFloat16Codec(), Float16Codec(), TopKCodec(fraction: 0.1), TopKCodec(fraction: 1)]
let destination = UnsafeMutableBufferPointer<Float>.allocate(capacity: 105)
exit(FuzzDriver.run { input in
    var frames: [[UInt8]] = []
    var offset = 0
    while offset + 2 <= input.count, frames.count < 8 {
        let length = min(Int(input[offset]) | Int(input[offset + 1]) << 8, input.count - offset - 2)
        frames.append(Array(input[(offset + 2)..<(offset + 2 + length)]))
        offset += 2 + length
    }
    _ = try? WireMessage.decode(bytes: frames, expectedFingerprint: nil, parameterCount: nil)
    let message = try? WireMessage.decode(bytes: frames, expectedFingerprint: 0x1122_3344_5566_7788, parameterCount: 105)
    let vector: EncodedVector?
    switch message?.body {
    case .pushGradient(let push)?: vector = push.encodedGradient
    case .weightsDelta(let delta)?: vector = delta
    default: vector = nil
    }
    if let vector {
        for codec in codecs { _ = vector.decode(with: codec, into: destination) }
    }
})
