import ArgumentParser

/// The command-line tool: trains the tutorial's networks in one process, or with a parameter server and workers.
@main
struct Trainer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trainer",
        abstract: "Train the tutorial's neural networks (MNIST, Fashion-MNIST, CIFAR-10, XOR, sine) with PyTorch's semantics.",
        discussion: """
            Data sets are looked up in --data-dir, else $TRAINER_DATA_DIR, else ./data, else /usr/share/datasets, \
            in sub-folders mnist/, fashion-mnist/ (Debian: apt-get install dataset-fashion-mnist) and \
            cifar-10-batches-bin/; trainer download fetches them there.

            One process: trainer train. A parameter server and workers: trainer local (all in this process), or \
            trainer server and trainer worker (separate processes or hosts, over tcp).
            """,
        subcommands: [TrainCommand.self, EvalCommand.self, LocalCommand.self, ServerCommand.self, WorkerCommand.self,
                      KeygenCommand.self, DownloadCommand.self, ReportCommand.self]
    )
}
