#!/usr/bin/env python3
"""The tutorial's CIFAR-10 CNN and sine LSTM in PyTorch, timed the way `trainer train` times them.

cnn:  conv(3→32, 3, pad 1) → ReLU → maxpool 2 → conv(32→64) → ReLU → maxpool 2 → fc(4096→512) →
      ReLU → fc(512→10); CrossEntropyLoss, SGD(lr 0.01, momentum 0.9), batch 64, CIFAR-10's
      data_batch_1 read from the .bin.gz file, normalised (x/255 − 0.5)/0.5 and held in memory;
      each epoch a torch.randperm order, batches gathered by index inside the timed loop, loss.item()
      every step. Only training is timed. Reports samples/second per epoch.
cnn-inference: the same CNN (as initialised) in eval mode under torch.no_grad(), batches of 1000 of
      data_batch_1 in order, ROUNDS passes over the 10000 images (the first a warm-up). Reports
      samples/second per pass.
lstm / rnn / gru: the tutorial's sequence regressor (hidden 32, batch_first, last step → Linear),
      980 windows of 20 values of sin(t), t = 0, 0.1, …, 99.9, full batch, MSELoss, Adam(lr 0.01), 100 epochs. Reports
      the seconds for the 100 epochs and the final loss.

    python3 Benchmarks/pytorch_cnn_lstm.py cnn --epochs 3 --threads 2 --data-dir ../shared/data
    python3 Benchmarks/pytorch_cnn_lstm.py cnn-inference --epochs 4 --threads 2 --data-dir ../shared/data
    python3 Benchmarks/pytorch_cnn_lstm.py lstm --threads 2
Prints one JSON object on stdout.
"""

import argparse
import gzip
import json
import os
import statistics
import time

import numpy as np
import torch
import torch.nn as nn

from tutorial_models import SimpleCNN


class SequenceRegressor(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.cell = cell
        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](1, 32, batch_first=True)
        self.fc = nn.Linear(32, 1)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(0), 32)
        state = (h0, torch.zeros(1, x.size(0), 32)) if self.cell == "lstm" else h0
        out, _ = self.rnn(x, state)
        return self.fc(out[:, -1, :])


def cifar_batch(folder, name):
    for candidate in (name + ".gz", name):
        path = os.path.join(folder, candidate)
        if os.path.exists(path):
            data = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
            records = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3073)
            images = records[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32)
            return torch.from_numpy((images / 255 - 0.5) / 0.5), torch.from_numpy(records[:, 0].astype(np.int64))
    raise FileNotFoundError(os.path.join(folder, name))


def bench_cnn(args):
    x, y = cifar_batch(os.path.join(args.data_dir, "cifar-10-batches-bin"), "data_batch_1.bin")
    torch.manual_seed(args.seed)
    model = SimpleCNN()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rates = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        order = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            index = order[i:i + 64]
            optimizer.zero_grad()
            loss = criterion(model(x[index]), y[index])
            loss.backward()
            optimizer.step()
            loss.item()
        rates.append(len(x) / (time.perf_counter() - start))
    return {"samples_per_second": rates, "median_after_first": statistics.median(rates[1:] or rates)}


def bench_cnn_inference(args):
    x, _ = cifar_batch(os.path.join(args.data_dir, "cifar-10-batches-bin"), "data_batch_1.bin")
    torch.manual_seed(args.seed)
    model = SimpleCNN().eval()
    rates = []
    with torch.no_grad():
        for _ in range(args.epochs):
            start = time.perf_counter()
            for i in range(0, len(x), 1000):
                model(x[i:i + 1000]).argmax(1)
            rates.append(len(x) / (time.perf_counter() - start))
    return {"samples_per_second": rates, "median_after_first": statistics.median(rates[1:] or rates)}


def bench_sequence(args):
    t = np.arange(0, 100, 0.1)
    values = np.sin(t).astype(np.float32)
    windows = np.stack([values[i:i + 20] for i in range(len(values) - 20)])[:, :, None]
    x, y = torch.from_numpy(windows), torch.from_numpy(values[20:, None].copy())
    torch.manual_seed(args.seed)
    model = SequenceRegressor(args.model)
    criterion = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    start = time.perf_counter()
    for _ in range(100):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    return {"seconds_for_100_epochs": seconds, "final_loss": loss.item()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", choices=["cnn", "cnn-inference", "rnn", "lstm", "gru"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=os.environ.get("TRAINER_DATA_DIR", "../shared/data"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bench = {"cnn": bench_cnn, "cnn-inference": bench_cnn_inference}.get(args.model, bench_sequence)
    result = bench(args)
    result.update({"model": args.model, "threads": torch.get_num_threads(), "torch": torch.__version__})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
