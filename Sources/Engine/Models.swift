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
}
