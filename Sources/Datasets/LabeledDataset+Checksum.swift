extension LabeledDataset {
    /// A 64-bit FNV-1a hash of the labels, targets and a stride of the features, so that two hosts can
    /// check they hold the same data in the same order without sending it.
    ///
    /// Every label and target is hashed, and one feature in 97 (the bit patterns): enough to tell two
    /// data sets of the same size apart, at a few milliseconds for MNIST.
    public var checksum: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ value: UInt32) {
            for shift in stride(from: 0, to: 32, by: 8) {
                hash = (hash ^ UInt64((value >> UInt32(shift)) & 0xFF)) &* 0x0000_0100_0000_01B3
            }
        }
        for label in labels { mix(UInt32(bitPattern: label)) }
        for target in targets { mix(target.bitPattern) }
        for index in stride(from: 0, to: features.count, by: 97) { mix(features[index].bitPattern) }
        mix(UInt32(truncatingIfNeeded: features.count))
        return hash
    }
}
