#!/usr/bin/env python3
"""The tutorial's sine regressors in PyTorch over many seeds: the reference side of Benchmarks/sine_seeds.sh.

The series is the one `SineWaveDataset` builds: t = np.arange(0, 100, 0.1) (1000 points, t_i = i·0.1
in float64), values sin(t) rounded to float32, 980 windows values[i:i+20] → target values[i+20].
Each run: torch.manual_seed(seed), the tutorial's model (nn.RNN / nn.LSTM / nn.GRU(1, 32,
batch_first=True) from a zero state, its last step → nn.Linear(32, 1)), MSELoss, Adam(lr 0.01),
100 full-batch epochs. Reports, per model and seed, the loss of the last epoch (before its update,
as the tutorial prints it) and the MSE of the trained model over the series (`model.eval()`,
`torch.no_grad()`), which is what `trainer train` prints and writes as the last `test_loss`.

    python3 Benchmarks/pytorch_sine.py --models rnn lstm gru --seeds 20 --threads 1
    python3 Benchmarks/pytorch_sine.py --save-init DIR   # also write each run's initial weights
    python3 Benchmarks/pytorch_sine.py --init DIR        # start each run from DIR/MODEL-SEED.safetensors
Prints one JSON object per run on stdout.
"""

import argparse
import json
import os

import numpy as np
import safetensors.torch
import torch
import torch.nn as nn


class SequenceRegressor(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.cell = cell
        setattr(self, cell, {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](1, 32, batch_first=True))
        self.fc = nn.Linear(32, 1)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(0), 32)
        state = (h0, torch.zeros(1, x.size(0), 32)) if self.cell == "lstm" else h0
        out, _ = getattr(self, self.cell)(x, state)
        return self.fc(out[:, -1, :])


def series(window=20):
    """980 windows of 20 values of sin over t = 0, 0.1, …, 99.9 and the value after each."""
    t = np.arange(0, 100, 0.1)
    values = np.sin(t).astype(np.float32)
    count = len(values) - window
    x = np.stack([values[i:i + window] for i in range(count)])[:, :, None]
    return torch.from_numpy(x), torch.from_numpy(values[window:, None].copy())


def train(cell, seed, x, y, epochs=100, init=None, save_init=None):
    torch.manual_seed(seed)
    model = SequenceRegressor(cell)
    if init:
        model.load_state_dict(safetensors.torch.load_file(init))
    if save_init:
        safetensors.torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()}, save_init)
    criterion = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        final = criterion(model(x), y).item()
    return {"model": cell, "seed": seed, "last_epoch_loss": loss.item(), "mse": final}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["rnn", "lstm", "gru"])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--init", help="folder of MODEL-SEED.safetensors initial weights to start from")
    parser.add_argument("--save-init", help="folder to write each run's initial weights to, as MODEL-SEED.safetensors")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, y = series()
    for cell in args.models:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            name = f"{cell}-{seed}.safetensors"
            result = train(cell, seed, x, y, init=args.init and os.path.join(args.init, name),
                           save_init=args.save_init and os.path.join(args.save_init, name))
            result["torch"] = torch.__version__
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
