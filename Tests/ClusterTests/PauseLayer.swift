import Engine
import Foundation

/// A layer without parameters that passes its input through after a pause: a slow worker, for
/// tests of what the others do while they wait for it.
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
