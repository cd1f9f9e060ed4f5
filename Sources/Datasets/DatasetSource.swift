/// Where a data set is published and how its files land in the data folder for the loaders.
public struct DatasetSource: Sendable {
    /// One published file and its expected SHA-256 digest and size.
    public struct RemoteFile: Sendable {
        /// The file name, both on the server (after the base URL) and on disk.
        public let name: String
        /// The published SHA-256 digest, lowercase hexadecimal.
        public let sha256: String
        /// The published size in bytes.
        public let size: Int64
    }

    /// The name given on the command line: `mnist`, `fashion-mnist`, `cifar10`.
    public let name: String
    /// The official base URL; each file is fetched from `baseURL + file name`.
    public let baseURL: String
    /// The sub-folder of the data folder that the files are saved in ("" for the data folder itself).
    public let downloadFolder: String
    /// The files to fetch.
    public let files: [RemoteFile]
    /// For an archive: the sub-folder its contents unpack to and the files that must be there afterwards.
    public let extractedFolder: String?
    /// The files the loaders need in `extractedFolder` (used to tell whether to unpack again).
    public let extractedFiles: [String]

    /// The folder the loaders read: `downloadFolder`, or `extractedFolder` for an archive.
    public var loaderFolder: String { extractedFolder ?? downloadFolder }

    /// MNIST's four IDX files, as first published by Yann LeCun et al., from Google's CVDF mirror
    /// (torchvision's mirror https://ossci-datasets.s3.amazonaws.com/mnist/ serves the same files).
    /// Digests and sizes: tensorflow/datasets, tensorflow_datasets/url_checksums/mnist.txt (same URLs).
    public static let mnist = DatasetSource(
        name: "mnist",
        baseURL: "https://storage.googleapis.com/cvdf-datasets/mnist/",
        downloadFolder: "mnist",
        files: [
            RemoteFile(name: "train-images-idx3-ubyte.gz", sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", size: 9_912_422),
            RemoteFile(name: "train-labels-idx1-ubyte.gz", sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", size: 28_881),
            RemoteFile(name: "t10k-images-idx3-ubyte.gz", sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", size: 1_648_877),
            RemoteFile(name: "t10k-labels-idx1-ubyte.gz", sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", size: 4_542),
        ],
        extractedFolder: nil,
        extractedFiles: []
    )

    /// Fashion-MNIST's four IDX files from Zalando Research's S3 bucket (the official site
    /// http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ is that bucket's plain-HTTP web endpoint;
    /// this is its HTTPS endpoint). Digests and sizes: tensorflow/datasets,
    /// tensorflow_datasets/url_checksums/fashion_mnist.txt (listed for the web endpoint's URLs).
    public static let fashionMNIST = DatasetSource(
        name: "fashion-mnist",
        baseURL: "https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
        downloadFolder: "fashion-mnist",
        files: [
            RemoteFile(name: "train-images-idx3-ubyte.gz", sha256: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", size: 26_421_880),
            RemoteFile(name: "train-labels-idx1-ubyte.gz", sha256: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", size: 29_515),
            RemoteFile(name: "t10k-images-idx3-ubyte.gz", sha256: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", size: 4_422_102),
            RemoteFile(name: "t10k-labels-idx1-ubyte.gz", sha256: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", size: 5_148),
        ],
        extractedFolder: nil,
        extractedFiles: []
    )

    /// CIFAR-10's binary release from Alex Krizhevsky's page, one tar.gz holding `cifar-10-batches-bin/`.
    /// Digest and size: tensorflow/datasets, tensorflow_datasets/url_checksums/cifar10.txt (same URL).
    public static let cifar10 = DatasetSource(
        name: "cifar10",
        baseURL: "https://www.cs.toronto.edu/~kriz/",
        downloadFolder: "",
        files: [
            RemoteFile(name: "cifar-10-binary.tar.gz", sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", size: 170_052_171),
        ],
        extractedFolder: CIFAR10Dataset.folderName,
        extractedFiles: (1...CIFAR10Dataset.trainBatchCount).map { "data_batch_\($0).bin" } + ["test_batch.bin", "batches.meta.txt"]
    )

    /// Every data set that can be downloaded, by command-line name.
    public static let all: [DatasetSource] = [mnist, fashionMNIST, cifar10]

    /// The data set called `name`, if any.
    public static func named(_ name: String) -> DatasetSource? { all.first { $0.name == name } }
}
