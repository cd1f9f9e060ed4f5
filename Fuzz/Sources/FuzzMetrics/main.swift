import Foundation
import FuzzSupport
import Reports

// A metrics file, as `trainer report` reads it.
exit(FuzzDriver.run { input in
    _ = try? MetricsHistory(contentsOf: ScratchFile.write(input, name: "metrics.jsonl")).epochCount
})
