import Datasets
import Foundation
import FuzzSupport

// A CIFAR-10 folder whose test_batch.bin (plain or gzip) is the input.
let folder = ScratchFile.path("cifar")
try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
exit(FuzzDriver.run { input in
    _ = FileManager.default.createFile(atPath: folder + "/test_batch.bin", contents: Data(buffer: input))
    _ = try? CIFAR10Dataset(folder: folder, split: .test)
})
