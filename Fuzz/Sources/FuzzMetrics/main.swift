import Foundation
import FuzzSupport
import MetricsReader

// A metrics file, as `trainer report` reads it.
exit(FuzzDriver.run { input in
    _ = try? MetricsReport.read(ScratchFile.write(input, name: "metrics.jsonl"))
})
