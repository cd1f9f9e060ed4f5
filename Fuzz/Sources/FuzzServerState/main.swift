import Cluster
import Foundation
import FuzzSupport

// A server state file, as `trainer server --resume` reads it.
exit(FuzzDriver.run { input in
    _ = try? ServerState(contentsOf: ScratchFile.write(input, name: "state"))
})
