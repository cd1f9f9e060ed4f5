import Datasets
import Foundation
import FuzzSupport

// A tar archive (plain or gzip), extracted into a scratch folder emptied before each input.
let destination = ScratchFile.path("tar-out")
exit(FuzzDriver.run { input in
    try? FileManager.default.removeItem(atPath: destination)
    try? FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
    _ = try? TarArchive.extract(ScratchFile.write(input, name: "archive.tar"), into: destination)
})
