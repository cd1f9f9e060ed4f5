#!/usr/bin/env python3
"""Writes the PyTorch golden fixtures that Tests/EngineTests compares the Swift engine against.

Run from the repository root (needs torch, numpy and safetensors; they are not CI dependencies,
CI only reads the committed files):

    python3 scripts/make_fixtures.py                     # rewrites Tests/EngineTests/Fixtures/*
    python3 scripts/make_fixtures.py --verify FILE       # checks a safetensors file our Swift writer made

The committed fixtures were made with torch 2.13.0+cpu, numpy 2.4.6, safetensors 0.8.0 (CPU,
one thread). The script records the versions it ran with inside each file, and rerunning it with the
same versions rewrites the same bytes.

Files written into Tests/EngineTests/Fixtures/:

  mlp_golden.safetensors  the tutorial MLP (784-128-64-10, fc1/fc2/fc3 with ReLU) on one batch:
                          `logits` [8,10], `loss` [1] (CrossEntropyLoss, mean), `grad.<name>` for every
                          parameter, `sgd3.<name>` (parameters after 3 steps of SGD lr 0.01 momentum 0.9),
                          `adam3.<name>` (after 3 steps of Adam lr 0.001), `loss_after.sgd` and
                          `loss_after.adam` (the loss on the same batch after those 3 steps).
  optimizers.json         SGD and Adam variants on 6 parameters for 4 steps: initial parameters, the
                          gradient given at each step, the expected parameters after each step.
  losses.json             MSELoss, CrossEntropyLoss, BCELoss, BCEWithLogitsLoss: inputs, targets, loss,
                          and the gradient of the loss w.r.t. the input (including extreme inputs).
  activations.json        Softmax(dim=-1), Sigmoid, Tanh, ReLU: input, upstream gradient, output and
                          input gradient.
  recurrent_golden.safetensors
                          nn.RNN, nn.LSTM and nn.GRU (input 2, hidden 5, batch_first) on x [3, 6, 2] from a
                          nonzero initial state, with the loss sum(out[:, -1, :] * w): per cell `<cell>.output`
                          (the last step) [3,5], `<cell>.sequence` [3,6,5], `<cell>.h_n` [3,5] (and `lstm.c_n`),
                          `<cell>.grad.<name>` for every parameter, `<cell>.grad.input`, `<cell>.grad.h0` (and
                          `lstm.grad.c0`). Then the tutorial's regressors (a `rnn`/`lstm`/`gru` module of hidden
                          size 10 on [4, 8, 1], zero initial state, last step into `fc` = Linear(10, 1), MSELoss):
                          `regressor_<cell>.prediction` [4,1], `regressor_<cell>.loss` [1] and
                          `regressor_<cell>.grad.<state_dict name>` (e.g. `regressor_lstm.grad.lstm.weight_ih_l0`).

No parameters are stored for the MLP's starting point: they come from a formula both sides compute
exactly. For tensor number k (0-based, state_dict order) and flat element i,

    u = ((i * 2654435761 + k * 97531 + 12345) mod 2**32) / 2**32       (exact integer arithmetic)
    value = float32((u - 0.5) * 0.2)                                    (float64, then rounded once)

The inputs x [8, 784] use k = 100 and (u - 0.5) * 2.0; the labels are (3 * i) % 10 for i in 0..<8.
The recurrent fixtures use the same formula with base = 200 (rnn), 300 (lstm), 400 (gru): parameter j
of the layer (state_dict order) k = base + j, scale 1.0; x k = base + 10, scale 4.0; h0 [3, 5]
k = base + 11 and c0 k = base + 12, scale 2.0; the loss weights w [3, 5] k = base + 13, scale 2.0. The
regressors: parameter j of the module's state_dict k = base + 50 + j, scale 0.8; x k = base + 60 and the
targets [4, 1] k = base + 61, scale 2.0.
The small JSON cases take their numbers from a sine formula (`small` below) and store every value.
Every float in the JSON files is the exact float32 value written as a float64 decimal, so parsing it
as a double and rounding to float32 gives back the same bits.

`--verify FILE` loads FILE with safetensors.torch.load_file, checks every tensor is float32, and,
when the names and shapes are the tutorial MLP's, that the values are the formula's initial parameters
and that the state_dict loads into the PyTorch module. EngineTests writes such a file when run with
ENGINE_EXPORT_SAFETENSORS=/path/file.safetensors in the environment.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import safetensors
import torch
from safetensors.torch import load_file, save_file
from torch import nn

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "EngineTests", "Fixtures")


def formula(k, count, scale):
    """float32((u - 0.5) * scale) with u = ((i * 2654435761 + k * 97531 + 12345) mod 2^32) / 2^32."""
    i = np.arange(count, dtype=np.int64)  # i * 2654435761 < 2^63 for every count used here
    u = ((i * 2654435761 + k * 97531 + 12345) % (2**32)).astype(np.float64) / 2.0**32
    return ((u - 0.5) * scale).astype(np.float32)


class MLP(nn.Module):
    """The tutorial's MNIST MLP."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


def small(n, count, scale):
    """The n-th small JSON tensor: float32(scale * sin(0.7 + 1.3 n + (1 + (0.618034 n mod 1.5)) i)).

    Not `formula`: two of its tensors differ by a constant modulo 1 (k only shifts u), which would make
    a target or a gradient sequence a shifted copy of another. The JSON files store the values anyway.
    """
    i = np.arange(count, dtype=np.float64)
    frequency = 1.0 + (0.618034 * n) % 1.5  # in [1, 2.5): away from 0, pi and 2 pi
    return (scale * np.sin(0.7 + 1.3 * n + frequency * i)).astype(np.float32)


def formula_mlp():
    model = MLP()
    with torch.no_grad():
        for k, (name, tensor) in enumerate(model.state_dict().items()):
            tensor.copy_(torch.from_numpy(formula(k, tensor.numel(), 0.2)).reshape(tensor.shape))
    return model


def mlp_batch():
    x = torch.from_numpy(formula(100, 8 * 784, 2.0)).reshape(8, 784)
    labels = torch.tensor([(3 * i) % 10 for i in range(8)], dtype=torch.int64)
    return x, labels


def versions():
    return {"torch": torch.__version__, "numpy": np.__version__, "safetensors": safetensors.__version__}


def as_list(tensor):
    """Exact float32 values as Python floats (float64), nested like the tensor."""
    return tensor.detach().to(torch.float64).tolist()


def make_mlp_golden():
    x, labels = mlp_batch()
    loss_fn = nn.CrossEntropyLoss()
    out = {}

    model = formula_mlp()
    logits = model(x)
    loss = loss_fn(logits, labels)
    loss.backward()
    out["logits"] = logits.detach().clone()
    out["loss"] = loss.detach().reshape(1).clone()
    for name, parameter in model.named_parameters():
        out[f"grad.{name}"] = parameter.grad.detach().clone()

    for tag, make in [("sgd", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
                      ("adam", lambda p: torch.optim.Adam(p, lr=0.001))]:
        model = formula_mlp()
        optimizer = make(model.parameters())
        for _ in range(3):
            optimizer.zero_grad()
            loss = loss_fn(model(x), labels)
            loss.backward()
            optimizer.step()
        for name, parameter in model.named_parameters():
            out[f"{tag}3.{name}"] = parameter.detach().clone()
        with torch.no_grad():
            out[f"loss_after.{tag}"] = loss_fn(model(x), labels).reshape(1).clone()

    # One metadata entry: safetensors writes several in hash order, which would change the bytes on every run.
    made_with = ", ".join(f"{key} {value}" for key, value in versions().items())
    metadata = {"made_by": f"scripts/make_fixtures.py with {made_with}"}
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(FIXTURES, "mlp_golden.safetensors"),
              metadata=metadata)


def make_optimizers():
    count, steps = 6, 4
    cases = [
        {"name": "sgd_momentum_dampening", "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "dampening": 0.25,
         "weight_decay": 0.0, "nesterov": False},
        {"name": "sgd_nesterov_weight_decay", "optimizer": "sgd", "lr": 0.05, "momentum": 0.8, "dampening": 0.0,
         "weight_decay": 0.01, "nesterov": True},
        {"name": "sgd_plain_weight_decay", "optimizer": "sgd", "lr": 0.2, "momentum": 0.0, "dampening": 0.0,
         "weight_decay": 0.1, "nesterov": False},
        {"name": "adam_weight_decay", "optimizer": "adam", "lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8,
         "weight_decay": 0.05},
        {"name": "adam_betas_eps", "optimizer": "adam", "lr": 0.02, "betas": [0.8, 0.99], "eps": 1e-3,
         "weight_decay": 0.0},
    ]
    for number, case in enumerate(cases):
        initial = torch.from_numpy(small(200 + number, count, 2.0))
        gradients = [torch.from_numpy(small(300 + 10 * number + step, count, 2.0)) for step in range(steps)]
        parameter = nn.Parameter(initial.clone())
        if case["optimizer"] == "sgd":
            optimizer = torch.optim.SGD([parameter], lr=case["lr"], momentum=case["momentum"],
                                        dampening=case["dampening"], weight_decay=case["weight_decay"],
                                        nesterov=case["nesterov"])
        else:
            optimizer = torch.optim.Adam([parameter], lr=case["lr"], betas=tuple(case["betas"]), eps=case["eps"],
                                         weight_decay=case["weight_decay"])
        expected = []
        for gradient in gradients:
            optimizer.zero_grad()
            parameter.grad = gradient.clone()
            optimizer.step()
            expected.append(as_list(parameter))
        case["initial"] = as_list(initial)
        case["gradients"] = [as_list(g) for g in gradients]
        case["expected"] = expected
    write_json("optimizers.json", {"versions": versions(), "cases": cases})


def loss_case(name, kind, inputs, targets, labels=None):
    x = inputs.clone().requires_grad_(True)
    if kind == "mse":
        loss = nn.MSELoss()(x, targets)
    elif kind == "cross_entropy":
        loss = nn.CrossEntropyLoss()(x, labels)
    elif kind == "bce":
        loss = nn.BCELoss()(x, targets)
    else:
        loss = nn.BCEWithLogitsLoss()(x, targets)
    loss.backward()
    case = {"name": name, "loss": kind, "shape": list(inputs.shape), "input": as_list(inputs.flatten()),
            "value": float(loss.item()), "input_gradient": as_list(x.grad.flatten())}
    if labels is not None:
        case["labels"] = labels.tolist()
    else:
        case["target"] = as_list(targets.flatten())
    return case


def make_losses():
    t = torch.tensor
    cases = []
    cases.append(loss_case("mse", "mse", torch.from_numpy(small(400, 12, 2.0)).reshape(3, 4),
                           torch.from_numpy(small(401, 12, 2.0)).reshape(3, 4)))
    cases.append(loss_case("cross_entropy", "cross_entropy", torch.from_numpy(small(402, 15, 6.0)).reshape(3, 5),
                           None, labels=t([4, 0, 2])))
    large = t([[1000.0, 0.0, -1000.0, 999.0],
               [1000.0, 0.0, -1000.0, 999.0],
               [-1000.0, -1000.0, -1000.0, -1000.0],
               [50.0, 60.0, 70.0, 80.0]])
    cases.append(loss_case("cross_entropy_large_logits", "cross_entropy", large, None, labels=t([0, 2, 1, 0])))
    probabilities = t([[0.0, 1.0, 0.0, 1.0], [0.2, 0.7, 0.5, 0.999]])
    targets = t([[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.3, 1.0]])
    cases.append(loss_case("bce_clamped", "bce", probabilities, targets))
    cases.append(loss_case("bce", "bce", torch.from_numpy(small(403, 8, 0.45) + np.float32(0.5)).reshape(2, 4),
                           torch.from_numpy(small(404, 8, 0.5) + np.float32(0.5)).reshape(2, 4)))
    logits = t([[100.0, -100.0, 30.0, -30.0], [0.5, -2.0, 17.0, -88.0]])
    targets = t([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.25, 1.0]])
    cases.append(loss_case("bce_with_logits_large", "bce_with_logits", logits, targets))
    write_json("losses.json", {"versions": versions(), "cases": cases})


def make_activations():
    x = torch.from_numpy(small(500, 10, 4.0)).reshape(2, 5)
    x[0, 2] = 0.0  # ReLU's gradient at exactly 0 is 0 in PyTorch
    large = torch.tensor([[100.0, 101.0, 99.0, 100.5, -50.0]])  # softmax must shift by the row maximum
    x = torch.cat([x, large])
    upstream = torch.from_numpy(small(501, 15, 2.0)).reshape(3, 5)
    cases = []
    for name, module in [("softmax", nn.Softmax(dim=-1)), ("sigmoid", nn.Sigmoid()), ("tanh", nn.Tanh()),
                         ("relu", nn.ReLU())]:
        inputs = x.clone().requires_grad_(True)
        y = module(inputs)
        y.backward(upstream)
        cases.append({"name": name, "shape": list(x.shape), "input": as_list(x.flatten()),
                      "upstream_gradient": as_list(upstream.flatten()), "output": as_list(y.flatten()),
                      "input_gradient": as_list(inputs.grad.flatten())})
    write_json("activations.json", {"versions": versions(), "cases": cases})


RECURRENT = [("rnn", nn.RNN, 200), ("lstm", nn.LSTM, 300), ("gru", nn.GRU, 400)]


class SequenceRegressor(nn.Module):
    """The tutorial's SimpleRNN / SimpleLSTM (and the GRU alike): the cell's last step into fc."""

    def __init__(self, name, cell, input_size, hidden_size, output_size):
        super().__init__()
        self.name = name
        setattr(self, name, cell(input_size, hidden_size, batch_first=True))
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(0), self.fc.in_features)
        state = (h0, torch.zeros_like(h0)) if self.name == "lstm" else h0
        out, _ = getattr(self, self.name)(x, state)
        return self.fc(out[:, -1, :])


def set_formula_parameters(module, base, scale):
    with torch.no_grad():
        for j, tensor in enumerate(module.state_dict().values()):
            tensor.copy_(torch.from_numpy(formula(base + j, tensor.numel(), scale)).reshape(tensor.shape))


def make_recurrent_golden():
    batch, steps, inputs, hidden = 3, 6, 2, 5
    out = {}
    for name, cell, base in RECURRENT:
        layer = cell(inputs, hidden, batch_first=True)
        set_formula_parameters(layer, base, 1.0)
        x = torch.from_numpy(formula(base + 10, batch * steps * inputs, 4.0)).reshape(batch, steps, inputs)
        h0 = torch.from_numpy(formula(base + 11, batch * hidden, 2.0)).reshape(1, batch, hidden)
        c0 = torch.from_numpy(formula(base + 12, batch * hidden, 2.0)).reshape(1, batch, hidden)
        weights = torch.from_numpy(formula(base + 13, batch * hidden, 2.0)).reshape(batch, hidden)
        for tensor in (x, h0, c0):
            tensor.requires_grad_(True)
        sequence, state = layer(x, (h0, c0) if name == "lstm" else h0)
        last = sequence[:, -1, :]
        (last * weights).sum().backward()
        out[f"{name}.output"] = last.detach().clone()
        out[f"{name}.sequence"] = sequence.detach().clone()
        if name == "lstm":
            out[f"{name}.h_n"] = state[0][0].detach().clone()
            out[f"{name}.c_n"] = state[1][0].detach().clone()
        else:
            out[f"{name}.h_n"] = state[0].detach().clone()
        for parameter_name, parameter in layer.named_parameters():
            out[f"{name}.grad.{parameter_name}"] = parameter.grad.detach().clone()
        out[f"{name}.grad.input"] = x.grad.detach().clone()
        out[f"{name}.grad.h0"] = h0.grad[0].detach().clone()
        if name == "lstm":
            out[f"{name}.grad.c0"] = c0.grad[0].detach().clone()

    for name, cell, base in RECURRENT:
        model = SequenceRegressor(name, cell, 1, 10, 1)
        set_formula_parameters(model, base + 50, 0.8)
        x = torch.from_numpy(formula(base + 60, 4 * 8, 2.0)).reshape(4, 8, 1)
        targets = torch.from_numpy(formula(base + 61, 4, 2.0)).reshape(4, 1)
        prediction = model(x)
        loss = nn.MSELoss()(prediction, targets)
        loss.backward()
        out[f"regressor_{name}.prediction"] = prediction.detach().clone()
        out[f"regressor_{name}.loss"] = loss.detach().reshape(1).clone()
        for parameter_name, parameter in model.named_parameters():
            out[f"regressor_{name}.grad.{parameter_name}"] = parameter.grad.detach().clone()

    made_with = ", ".join(f"{key} {value}" for key, value in versions().items())
    metadata = {"made_by": f"scripts/make_fixtures.py with {made_with}"}
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(FIXTURES, "recurrent_golden.safetensors"),
              metadata=metadata)


class TutorialCNN(nn.Module):
    """The tutorial's CIFAR-10 network (SimpleCNN), with its module names."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 8 * 8, 512)
        self.fc2 = nn.Linear(512, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = x.view(-1, 64 * 8 * 8)
        return self.fc2(torch.relu(self.fc1(x)))


FC1_STRIDE = 997  # fc1.weight's gradient has 2,097,152 entries: keep every 997th, plus its sums


def make_cnn_golden():
    """cnn_golden.safetensors: the tutorial CNN's forward and backward on 2 images.

    Parameter j (state_dict order) is formula(500 + j, n, 2 / sqrt(fan_in)), fan_in being the
    weight's elements per output (the bias uses its weight's); the input [2, 3, 32, 32] is
    formula(600, ·, 2.0), the labels [3, 7]. Stored: logits, loss, every gradient in full except
    fc1.weight's, of which `grad.fc1.weight.every997` holds entries 0, 997, 1994, … and
    `grad.fc1.weight.sums` its sum and sum of squares (float64 accumulation).
    """
    model = TutorialCNN()
    with torch.no_grad():
        fan_in = {}
        for j, (name, tensor) in enumerate(model.state_dict().items()):
            layer = name.split(".")[0]
            if name.endswith("weight"):
                fan_in[layer] = tensor[0].numel()
            scale = 2.0 / math.sqrt(fan_in[layer])
            tensor.copy_(torch.from_numpy(formula(500 + j, tensor.numel(), scale)).reshape(tensor.shape))
    x = torch.from_numpy(formula(600, 2 * 3 * 32 * 32, 2.0)).reshape(2, 3, 32, 32)
    labels = torch.tensor([3, 7])
    logits = model(x)
    loss = nn.CrossEntropyLoss()(logits, labels)
    loss.backward()
    tensors = {"logits": logits.detach().contiguous(), "loss": loss.detach().reshape(1)}
    for name, parameter in model.named_parameters():
        gradient = parameter.grad.detach()
        if name == "fc1.weight":
            flat = gradient.reshape(-1)
            tensors["grad.fc1.weight.every997"] = flat[::FC1_STRIDE].contiguous()
            wide = flat.double()
            tensors["grad.fc1.weight.sums"] = torch.tensor([wide.sum().item(), (wide * wide).sum().item()],
                                                           dtype=torch.float32)
        else:
            tensors[f"grad.{name}"] = gradient.contiguous()
    save_file(tensors, os.path.join(FIXTURES, "cnn_golden.safetensors"), metadata={"made_by": "scripts/make_fixtures.py with torch " + torch.__version__})
    os.chmod(os.path.join(FIXTURES, "cnn_golden.safetensors"), 0o644)


def write_json(name, content):
    with open(os.path.join(FIXTURES, name), "w") as file:
        json.dump(content, file, indent=1)
        file.write("\n")


def verify(path):
    """Checks a safetensors file written by the Swift engine loads in Python's safetensors."""
    tensors = load_file(path)
    with safetensors.safe_open(path, framework="pt") as handle:
        metadata = handle.metadata()
    print(f"{path}: {len(tensors)} tensors, metadata {metadata}")
    for name, tensor in tensors.items():
        print(f"  {name}: {tensor.dtype} {list(tensor.shape)}")
        if tensor.dtype != torch.float32:
            sys.exit(f"{name} is {tensor.dtype}, expected float32")
    reference = formula_mlp().state_dict()
    if list(tensors) != list(reference) and sorted(tensors) != sorted(reference):
        print("not the tutorial MLP: checked names, dtypes and shapes only")
        return
    for name, expected in reference.items():
        if not torch.equal(tensors[name], expected):
            sys.exit(f"{name} differs from the formula's initial parameters")
    model = MLP()
    model.load_state_dict(tensors, strict=True)
    x, labels = mlp_batch()
    print(f"  MLP state_dict loads; loss on the fixture batch {nn.CrossEntropyLoss()(model(x), labels).item():.6f}")
    print("OK: every tensor equals the formula's initial parameters")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verify", metavar="FILE", help="check a safetensors file written by the Swift engine")
    arguments = parser.parse_args()
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if arguments.verify:
        verify(arguments.verify)
        return
    os.makedirs(FIXTURES, exist_ok=True)
    make_mlp_golden()
    make_optimizers()
    make_losses()
    make_activations()
    make_recurrent_golden()
    make_cnn_golden()
    for name in sorted(os.listdir(FIXTURES)):
        print(f"{name}: {os.path.getsize(os.path.join(FIXTURES, name))} bytes")


if __name__ == "__main__":
    main()
