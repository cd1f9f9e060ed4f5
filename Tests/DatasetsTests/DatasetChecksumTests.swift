import Datasets
import Testing
import TestSupport

/// The data-set checksum the server compares at join covers every feature, not a sample of them.
@Suite(.blocking) struct DatasetChecksumTests {
    func images(_ pixels: [Float]) -> LabeledDataset {
        LabeledDataset(name: "tiny", sampleShape: [1, 10, 10], features: pixels, labels: [Int32](repeating: 1, count: pixels.count / 100),
                       classCount: 10)
    }

    @Test func changingAnyOnePixelChangesTheChecksum() {
        let pixels = (0..<2000).map { Float($0 % 255) / 255 }
        let original = images(pixels).checksum
        #expect(images(pixels).checksum == original)
        // Every index, including all those a one-in-97 sample skips.
        for index in pixels.indices {
            var changed = pixels
            changed[index] = -changed[index] - 1
            #expect(images(changed).checksum != original, "a change at feature \(index) went unseen")
        }
    }

    @Test func invertingThePixelsASampleSkipsIsSeen() {
        let pixels = (0..<2000).map { Float($0 % 251) / 251 }
        var inverted = pixels
        for index in inverted.indices where index % 97 != 0 { inverted[index] = 1 - inverted[index] }
        #expect(images(inverted).checksum != images(pixels).checksum)
    }
}
