import Datasets
import Foundation
import FuzzSupport

// IDX headers and bodies of rank 1 and 3, from memory and from a file (plain or gzip).
exit(FuzzDriver.run { input in
    let bytes = Array(input)
    for rank in [1, 3] { _ = try? IDXFile(data: bytes, rank: rank, path: "input") }
    _ = try? IDXFile(path: ScratchFile.write(input, name: "idx"), rank: 3)
})
