/// The tutorial's networks, with its layer names so their `state_dict` matches PyTorch's.
public enum Models {
    /// A single linear layer from the inputs to the outputs (the tutorial's perceptron).
    public static func perceptron(inputs: Int, outputs: Int) -> Sequential {
        Sequential([("fc", Linear(inputs, outputs))])
    }

    /// fc1 → ReLU → fc2 → ReLU → fc3; with the defaults, the tutorial's MNIST MLP 784-128-64-10.
    public static func mlp(inputs: Int = 784, hidden: (Int, Int) = (128, 64), outputs: Int = 10) -> Sequential {
        Sequential([
            ("fc1", Linear(inputs, hidden.0)),
            ("relu1", ReLU()),
            ("fc2", Linear(hidden.0, hidden.1)),
            ("relu2", ReLU()),
            ("fc3", Linear(hidden.1, outputs)),
        ])
    }

    /// The tutorial's CIFAR-10 network: conv(3→32, 3×3, pad 1) → ReLU → maxpool 2 → conv(32→64) → ReLU →
    /// maxpool 2 → flatten (64·8·8) → fc1(4096→512) → ReLU → fc2(512→10), with its names `conv1`, `conv2`, `fc1`, `fc2`.
    public static func cnn(channels: Int = 3, imageSize: Int = 32, classes: Int = 10) -> Sequential {
        let pooled = imageSize / 4
        return Sequential([
            ("conv1", Conv2d(channels, 32, kernelSize: 3, padding: 1)),
            ("relu1", ReLU()),
            ("pool1", MaxPool2d(2, stride: 2)),
            ("conv2", Conv2d(32, 64, kernelSize: 3, padding: 1)),
            ("relu2", ReLU()),
            ("pool2", MaxPool2d(2, stride: 2)),
            ("flatten", Flatten()),
            ("fc1", Linear(64 * pooled * pooled, 512)),
            ("relu3", ReLU()),
            ("fc2", Linear(512, classes)),
        ])
    }
}
