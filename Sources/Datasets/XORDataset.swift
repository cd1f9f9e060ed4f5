/// The four points of XOR, the tutorial's argument for hidden layers: the label is 1 where the inputs differ.
public enum XORDataset {
    /// The set (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0, as two classes.
    public static func load() -> LabeledDataset {
        LabeledDataset(name: "xor", sampleShape: [2], features: [0, 0, 0, 1, 1, 0, 1, 1],
                       labels: [0, 1, 1, 0], classCount: 2)
    }
}
