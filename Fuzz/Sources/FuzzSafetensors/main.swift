import Engine
import Foundation
import FuzzSupport

// A safetensors file, read, then loaded into the 2-8-8-1 MLP `trainer` builds for XOR.
let model = Model(Models.mlp(inputs: 2, hidden: (8, 8), outputs: 1))
exit(FuzzDriver.run { input in
    let path = ScratchFile.write(input, name: "safetensors")
    _ = try? Safetensors.read(from: path)
    try? model.load(from: path)
})
