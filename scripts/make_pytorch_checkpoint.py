#!/usr/bin/env python3
"""Writes the PyTorch checkpoint that `trainer eval` must read without --model (EvalCommandTests).

Run from the repository root (needs torch, numpy and safetensors, which CI does not install: CI only reads
the committed files) on a machine with Debian's Fashion-MNIST (`apt-get install dataset-fashion-mnist`):

    python3 scripts/make_pytorch_checkpoint.py

It trains the tutorial's MLP (784-128-64-10: fc1, fc2, fc3 with ReLU; SGD lr 0.01 momentum 0.9, batch 64,
pixels (x/255 - 0.5)/0.5) for one epoch on Fashion-MNIST with torch.manual_seed(0), one CPU thread, then writes
into Tests/TrainerTests/Fixtures/:

  pytorch_mlp_fashion.safetensors  model.state_dict() written by safetensors.torch.save_file, no metadata,
                                   exactly as a PyTorch user saves a model
  pytorch_mlp_fashion.json         what PyTorch measured on the 10,000 test images with those weights
                                   (correct, count, test_accuracy, test_loss) and the versions it ran with
"""
import gzip
import json
import os

import numpy as np
import safetensors
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

DATA = "/usr/share/datasets/fashion-mnist"
OUT = os.path.join("Tests", "TrainerTests", "Fixtures")


def idx(name):
    """The array in an IDX file (gzip-compressed or plain), as Debian ships Fashion-MNIST."""
    path = os.path.join(DATA, name)
    opener = gzip.open if os.path.exists(path + ".gz") else open
    with opener(path + ".gz" if os.path.exists(path + ".gz") else path, "rb") as f:
        raw = f.read()
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def images(name):
    return torch.from_numpy(((idx(name).astype(np.float32) / 255.0 - 0.5) / 0.5).reshape(-1, 784))


class MLP(nn.Module):
    """The tutorial's MNIST model."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = x.view(-1, 784)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    train_x, train_y = images("train-images-idx3-ubyte"), torch.from_numpy(idx("train-labels-idx1-ubyte").astype(np.int64))
    test_x, test_y = images("t10k-images-idx3-ubyte"), torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64))
    model = MLP()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    order = torch.randperm(len(train_x))
    for start in range(0, len(train_x), 64):
        batch = order[start:start + 64]
        optimizer.zero_grad()
        loss = criterion(model(train_x[batch]), train_y[batch])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(test_x)
        test_loss = float(criterion(logits, test_y))
        correct = int((logits.argmax(dim=1) == test_y).sum())
    os.makedirs(OUT, exist_ok=True)
    save_file(model.state_dict(), os.path.join(OUT, "pytorch_mlp_fashion.safetensors"))
    summary = {
        "correct": correct,
        "count": len(test_y),
        "test_accuracy": correct / len(test_y),
        "test_loss": test_loss,
        "made_with": {"torch": torch.__version__, "numpy": np.__version__, "safetensors": safetensors.__version__},
    }
    with open(os.path.join(OUT, "pytorch_mlp_fashion.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
