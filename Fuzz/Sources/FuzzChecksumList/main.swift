import Datasets
import Foundation
import FuzzSupport

// A `sha256sum` list, as `trainer download --checksums` reads it.
exit(FuzzDriver.run { input in
    _ = try? ChecksumList(contentsOf: ScratchFile.write(input, name: "sha256sums"))
})
