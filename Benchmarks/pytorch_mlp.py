#!/usr/bin/env python3
"""The tutorial's MNIST MLP in PyTorch, timed the way `trainer train` times it.

784-128-64-10 with ReLU, CrossEntropyLoss, SGD(lr 0.01, momentum 0.9), batch 64. MNIST is read
from the IDX .gz files (gzip + numpy, no torchvision), normalised as (x/255 - 0.5)/0.5 and held
in memory as tensors. Each epoch draws a torch.randperm order and gathers every batch by index
inside the timed loop, as the Swift DataLoader does (it also draws its order inside the timed
region). Only training is timed; there is no evaluation. Prints one JSON object on stdout.

    python3 Benchmarks/pytorch_mlp.py --epochs 4 --threads 2 --data-dir /work/shared/data
"""

import argparse
import json
import os
import platform
import statistics
import time

import torch
import torch.nn as nn
import torch.optim as optim

from mnist_idx import load_mnist
from tutorial_models import Net


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data-dir", default=os.environ.get("TRAINER_DATA_DIR", "/work/shared/data"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x, y = load_mnist(args.data_dir, "train")
    n = x.shape[0]

    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    net.train()

    epochs = []
    for epoch in range(1, args.epochs + 1):
        running_loss = 0.0
        start = time.perf_counter()
        order = torch.randperm(n)
        for begin in range(0, n, args.batch_size):
            idx = order[begin:begin + args.batch_size]
            inputs, labels = x[idx], y[idx]
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        seconds = time.perf_counter() - start
        batches = (n + args.batch_size - 1) // args.batch_size
        epochs.append({"epoch": epoch, "seconds": seconds, "samples_per_second": n / seconds,
                       "train_loss": running_loss / batches})

    rates = [e["samples_per_second"] for e in epochs]
    print(json.dumps({
        "implementation": "pytorch",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "epochs": epochs,
        "median_samples_per_second": statistics.median(rates),
    }))


if __name__ == "__main__":
    main()
