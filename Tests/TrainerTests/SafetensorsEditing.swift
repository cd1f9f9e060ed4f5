import Engine
import Foundation

/// Writes `tensors` with `metadata` as a safetensors file, for tests that alter a file trainer saved.
func writeSafetensors(_ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String], to path: String) throws {
    var buffers: [UnsafeMutableBufferPointer<Float>] = []
    defer { for buffer in buffers { buffer.deallocate() } }
    for tensor in tensors {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: tensor.values.count)
        _ = buffer.initialize(from: tensor.values)
        buffers.append(buffer)
    }
    try Safetensors.write(zip(tensors, buffers).map { (name: $0.name, shape: $0.shape, values: UnsafeBufferPointer($1)) },
                          metadata: metadata, to: path)
}

/// The tensors of a safetensors file in file order.
func storedTensors(_ path: String) throws -> (tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String]) {
    let file = try Safetensors.read(from: path)
    return (file.order.map { (name: $0, shape: file.tensors[$0]!.shape, values: file.tensors[$0]!.values) }, file.metadata)
}
