import Engine
import Foundation

/// A layer without parameters that passes its input through after a pause: a slow worker, for
/// tests of what the others do while they wait for it.
///
/// `forward` is synchronous, so the pause blocks a thread, and it must: a worker computes its steps
/// on a compute thread of its own, never on the cooperative pool, so the pause starves no task under
/// test (and holds up none of the worker's heartbeats). Do not use it in a model run on the pool
/// (`trainer train`'s loop).
final class PauseLayer: Layer {
    private let pause: TimeInterval

    /// A layer whose forward pass takes at least `seconds`.
    init(seconds: TimeInterval) { pause = seconds }

    func forward(_ input: Tensor, mode: Mode) -> Tensor {
        Thread.sleep(forTimeInterval: pause)
        return input
    }

    func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? { outputGradient }
}
