#!/usr/bin/env python3
"""Writes the PyTorch fixtures for BatchNorm2d and Dropout that Tests/EngineTests compares against.

Run from the repository root (needs torch, numpy and safetensors; CI only reads the committed files):

    python3 scripts/make_normalization_fixtures.py                # rewrites the three files below
    python3 scripts/make_normalization_fixtures.py --verify FILE  # checks FILE, written by EngineTests

`--verify FILE` takes the file that `ENGINE_EXPORT_BATCHNORM=FILE swift test ... --filter BatchNormTests`
writes (the network below, loaded from batchnorm_net_state.safetensors, after one training-mode pass
on the golden input), loads it into the PyTorch network with load_state_dict(strict=True), and checks
its buffers and its evaluation output against PyTorch doing the same pass.

The committed files were made with the versions recorded in their metadata (torch 2.15.0, numpy
2.4.6, safetensors 0.8.0; CPU, one thread); the same versions rewrite the same bytes. Values come from
`formula` in scripts/make_fixtures.py (k, count, scale), so both sides build the inputs exactly.

Files written into Tests/EngineTests/Fixtures/:

  batchnorm_golden.safetensors
      nn.BatchNorm2d(3) (eps 1e-5, momentum 0.1) with weight = 1 + formula(700, 3, 1), bias =
      formula(701, 3, 1), running_mean = formula(702, 3, 1), running_var = 1 + formula(703, 3, 1).
      Training mode on x1 [4, 3, 5, 6] = formula(710, ·, 4) with the loss sum(y * w), w = formula(711, ·, 2):
      `train.output`, `train.grad.input`, `train.grad.weight`, `train.grad.bias`, and the buffers after
      that step, `after1.running_mean`, `after1.running_var`, `after1.num_batches_tracked` (as float32).
      A second training forward on x2 = formula(712, ·, 3) + 0.5 gives `after2.*`; then evaluation mode on
      x3 = formula(713, ·, 4) gives `eval.output`.
  batchnorm_net_state.safetensors
      The state_dict of nn.Sequential(conv = Conv2d(3, 4, 3, padding=1), bn = BatchNorm2d(4), relu = ReLU(),
      drop = Dropout(0.5), flatten = Flatten(), fc = Linear(64, 3)), saved by safetensors.torch.save_file
      exactly as PyTorch holds it (bn.num_batches_tracked is int64). Parameter j (state_dict order,
      buffers excluded) is formula(720 + j, n, 1 / sqrt(fan_in)) (the bias uses its weight's fan_in), and
      the running statistics come from three training-mode forwards on formula(724 + i, 2·3·4·4, 3) + i
      for i = 0, 1, 2 (Dropout sits after BatchNorm, so its random mask does not touch them).
  batchnorm_net_golden.safetensors
      That network in evaluation mode on x = formula(730, 2·3·4·4, 3): `input`, `output` [2, 3].
"""

import argparse
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import FIXTURES, formula, versions  # noqa: E402


def tensor(k, shape, scale, offset=0.0):
    count = int(np.prod(shape))
    return torch.from_numpy(formula(k, count, scale) + np.float32(offset)).reshape(shape)


def metadata():
    made_with = ", ".join(f"{key} {value}" for key, value in versions().items())
    return {"made_by": f"scripts/make_normalization_fixtures.py with {made_with}"}


def save(tensors, name):
    path = os.path.join(FIXTURES, name)
    save_file({key: value.contiguous() for key, value in tensors.items()}, path, metadata=metadata())
    os.chmod(path, 0o644)


def buffers(layer, prefix):
    return {
        f"{prefix}.running_mean": layer.running_mean.detach().clone(),
        f"{prefix}.running_var": layer.running_var.detach().clone(),
        f"{prefix}.num_batches_tracked": layer.num_batches_tracked.detach().to(torch.float32).reshape(1),
    }


def make_batchnorm_golden():
    shape = (4, 3, 5, 6)
    layer = nn.BatchNorm2d(3)
    with torch.no_grad():
        layer.weight.copy_(tensor(700, (3,), 1.0, 1.0))
        layer.bias.copy_(tensor(701, (3,), 1.0))
        layer.running_mean.copy_(tensor(702, (3,), 1.0))
        layer.running_var.copy_(tensor(703, (3,), 1.0, 1.0))
    out = {}
    layer.train()
    x1 = tensor(710, shape, 4.0).requires_grad_(True)
    weights = tensor(711, shape, 2.0)
    y1 = layer(x1)
    (y1 * weights).sum().backward()
    out["train.output"] = y1.detach().clone()
    out["train.grad.input"] = x1.grad.detach().clone()
    out["train.grad.weight"] = layer.weight.grad.detach().clone()
    out["train.grad.bias"] = layer.bias.grad.detach().clone()
    out.update(buffers(layer, "after1"))
    with torch.no_grad():
        layer(tensor(712, shape, 3.0, 0.5))
    out.update(buffers(layer, "after2"))
    layer.eval()
    with torch.no_grad():
        out["eval.output"] = layer(tensor(713, shape, 4.0)).clone()
    save(out, "batchnorm_golden.safetensors")


def batchnorm_net():
    return nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(3, 4, 3, padding=1)),
        ("bn", nn.BatchNorm2d(4)),
        ("relu", nn.ReLU()),
        ("drop", nn.Dropout(0.5)),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(64, 3)),
    ]))


def make_batchnorm_net():
    net = batchnorm_net()
    with torch.no_grad():
        fan_in = {}
        for j, (name, parameter) in enumerate(net.named_parameters()):
            layer = name.split(".")[0]
            if name.endswith("weight"):
                fan_in[layer] = parameter[0].numel()
            parameter.copy_(tensor(720 + j, tuple(parameter.shape), 1.0 / np.sqrt(fan_in[layer])))
        net.train()
        torch.manual_seed(0)
        for i in range(3):
            net(tensor(724 + i, (2, 3, 4, 4), 3.0, float(i)))
    save_file(net.state_dict(), os.path.join(FIXTURES, "batchnorm_net_state.safetensors"), metadata=metadata())
    os.chmod(os.path.join(FIXTURES, "batchnorm_net_state.safetensors"), 0o644)
    net.eval()
    x = tensor(730, (2, 3, 4, 4), 3.0)
    with torch.no_grad():
        save({"input": x, "output": net(x)}, "batchnorm_net_golden.safetensors")


def verify(path):
    """Loads a file EngineTests wrote into PyTorch and compares it with PyTorch's own training pass."""
    ours = load_file(path)
    for name, value in ours.items():
        print(f"  {name}: {value.dtype} {list(value.shape)}")
    theirs = batchnorm_net()
    theirs.load_state_dict(load_file(os.path.join(FIXTURES, "batchnorm_net_state.safetensors")), strict=True)
    x = load_file(os.path.join(FIXTURES, "batchnorm_net_golden.safetensors"))["input"]
    theirs.train()
    with torch.no_grad():
        theirs(x)
    loaded = batchnorm_net()
    loaded.load_state_dict(ours, strict=True)
    if loaded.bn.num_batches_tracked.item() != theirs.bn.num_batches_tracked.item():
        sys.exit(f"num_batches_tracked {loaded.bn.num_batches_tracked.item()}, PyTorch {theirs.bn.num_batches_tracked.item()}")
    for name in ("running_mean", "running_var"):
        difference = (getattr(loaded.bn, name) - getattr(theirs.bn, name)).abs().max().item()
        print(f"  bn.{name}: max abs difference {difference:.3g}")
        if difference > 1e-5:
            sys.exit(f"bn.{name} differs from PyTorch's by {difference}")
    loaded.eval()
    theirs.eval()
    with torch.no_grad():
        difference = (loaded(x) - theirs(x)).abs().max().item()
    print(f"  evaluation output: max abs difference {difference:.3g}")
    if difference > 1e-5:
        sys.exit(f"the evaluation output differs from PyTorch's by {difference}")
    print("OK: the state_dict loads into PyTorch (strict) and matches PyTorch's own training pass")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verify", metavar="FILE", help="check a safetensors file EngineTests wrote")
    arguments = parser.parse_args()
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if arguments.verify:
        verify(arguments.verify)
        return
    os.makedirs(FIXTURES, exist_ok=True)
    make_batchnorm_golden()
    make_batchnorm_net()
    for name in ("batchnorm_golden.safetensors", "batchnorm_net_state.safetensors", "batchnorm_net_golden.safetensors"):
        print(f"{name}: {os.path.getsize(os.path.join(FIXTURES, name))} bytes")


if __name__ == "__main__":
    main()
