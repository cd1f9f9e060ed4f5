#!/usr/bin/env python3
"""PyTorch DistributedDataParallel (gloo, CPU) reference for the parameter-server cluster benchmark.

Training (--model mlp, the default): the tutorial's MNIST MLP (784-128-64-10, ReLU,
CrossEntropyLoss, SGD lr 0.01 momentum 0.9) wrapped in torch.nn.parallel.DistributedDataParallel,
backend gloo, --world-size processes on this machine (mp.spawn, MASTER_ADDR 127.0.0.1, a free port
picked by binding a socket to port 0), --batch-size samples per process per step (global batch =
world size x batch size), torch.set_num_threads(--threads) in every process. MNIST is read from the
IDX .gz files under DATA_DIR/mnist (gzip + numpy, the same code as pytorch_mlp.py), normalised as
(x/255 - 0.5)/0.5 and held in memory as tensors in every process.

Sharding follows Sources/Datasets/ShardPlan.swift: each epoch (0-based index e) every process draws
the same order torch.randperm(n, generator seeded with seed + e); at step k rank r takes positions
[k*N*b + r*b, k*N*b + (r+1)*b) of it. The last global batch is NOT dropped: it is cut the same way
(so a later rank may get a short or even empty slice), and each rank's loss is the SUM of its
per-sample losses times N / (samples in the global step), so DDP's gradient average (divide by N)
equals the mean gradient over the whole global batch, as the Swift server's sample-count weighting
does. Every epoch therefore covers all n = 60,000 samples (469 steps at 2 x 64).

Each epoch is timed in rank 0 between two barriers (drawing the order, gathering every batch by
index, forward, backward with DDP's allreduce, optimizer step and loss.item() every step, as the
Swift side does); the first epoch is warm-up. After every epoch, outside the timed span, rank 0
evaluates accuracy on the 10k test images (the others wait at a barrier); with --target, the result
names the first epoch whose test accuracy reaches it and the training seconds summed up to and
including that epoch; with --stop-at-target as well, training ends after that epoch (but not before
the second, so a rate after the warm-up epoch is measured). Prints one JSON object on stdout from rank 0.

--hook: a DDP communication hook (torch.distributed.algorithms.ddp_comm_hooks) registered on the
model: none (DDP's own allreduce of float32 buckets), fp16 (fp16_compress_hook), bf16
(bf16_compress_hook) or powersgd (powerSGD_hook with a PowerSGDState of matrix approximation rank
--powersgd-rank, vanilla allreduce for the first --powersgd-start steps, error feedback and warm
start on, PyTorch's other defaults).

Processes: by default --world-size processes on this machine (mp.spawn, MASTER_ADDR 127.0.0.1, a
free port). With --rank R one process of rank R runs in this process instead, rendezvousing at
--master-addr:--master-port (rank 0 listens there): start one per host, for example one in each of
two network namespaces (Benchmarks/netns_matrix.sh). Set GLOO_SOCKET_IFNAME to the interface gloo
should use when the host name does not resolve to it.

--allreduce-only: no data and no training. Times one gloo all_reduce (SUM) of a float32 tensor as
large as the MLP's parameters and one as large as the tutorial CIFAR CNN's (conv(3->32,3x3,pad 1)-
pool-conv(32->64,3x3,pad 1)-pool-fc(4096->512)-fc(512->10); counts taken from the nn.Modules):
5 warm-up calls then --repeats timed calls, a barrier before each, timed in rank 0. Works with
either --model (it always measures both sizes).

    python3 Benchmarks/pytorch_ddp.py --epochs 3 --data-dir /work/shared/data
    python3 Benchmarks/pytorch_ddp.py --epochs 8 --hook powersgd --powersgd-rank 2 --target 0.97
    python3 Benchmarks/pytorch_ddp.py --rank 0 --master-addr 10.213.0.2 --master-port 29500 --hook fp16
    python3 Benchmarks/pytorch_ddp.py --allreduce-only --repeats 50
"""

import argparse
import json
import os
import socket
import statistics
import sys
import time
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.optim as optim
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks, powerSGD_hook as powersgd
from torch.nn.parallel import DistributedDataParallel as DDP

from mnist_idx import load_mnist
from tutorial_models import Net, SimpleCNN

WARMUP_ALLREDUCES = 5
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def parameter_count(module):
    return sum(p.numel() for p in module.parameters())


def check_data_dir(data_dir):
    """None if DATA_DIR/mnist holds the four IDX files (.gz or plain), else a message."""
    folder = os.path.join(data_dir, "mnist")
    if not os.path.isdir(folder):
        return f"no MNIST folder {folder!r} (pass --data-dir DIR, DIR holding mnist/ with the IDX .gz files)"
    missing = [stem for stem in MNIST_FILES
               if not any(os.path.exists(os.path.join(folder, stem + ext)) for ext in (".gz", ""))]
    if missing:
        return f"{folder}: missing {', '.join(s + '(.gz)' for s in missing)}"
    return None


def register_hook(model, args):
    """Registers --hook on the DDP model; returns a description of it for the result."""
    if args.hook == "fp16":
        model.register_comm_hook(None, default_hooks.fp16_compress_hook)
        return {"hook": "fp16_compress_hook"}
    if args.hook == "bf16":
        model.register_comm_hook(None, default_hooks.bf16_compress_hook)
        return {"hook": "bf16_compress_hook"}
    if args.hook == "powersgd":
        state = powersgd.PowerSGDState(process_group=None, matrix_approximation_rank=args.powersgd_rank,
                                       start_powerSGD_iter=args.powersgd_start)
        model.register_comm_hook(state, powersgd.powerSGD_hook)
        return {"hook": "powerSGD_hook", "powersgd_rank": args.powersgd_rank,
                "powersgd_start_iter": args.powersgd_start}
    return {"hook": None}


def test_accuracy(net, test_x, test_y):
    """The share of the test images NET classifies right."""
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, test_x.shape[0], 1000):
            correct += (net(test_x[i:i + 1000]).argmax(dim=1) == test_y[i:i + 1000]).sum().item()
    net.train()
    return correct / test_x.shape[0]


# --- one process ------------------------------------------------------------------------------------

def train(rank, args):
    world = args.world_size
    b = args.batch_size
    x, y = load_mnist(args.data_dir, "train")
    n = x.shape[0]
    global_batch = world * b
    steps = (n + global_batch - 1) // global_batch     # last step possibly partial (see header)

    torch.manual_seed(args.seed)                       # same initial weights everywhere (DDP also broadcasts rank 0's)
    model = DDP(Net())
    hook = register_hook(model, args)
    test_x, test_y = load_mnist(args.data_dir, "t10k") if rank == 0 else (None, None)
    criterion = nn.CrossEntropyLoss(reduction="sum")
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    generator = torch.Generator()

    epoch_seconds, rates, losses, accuracies = [], [], [], []
    for epoch in range(args.epochs):
        running_loss = 0.0
        dist.barrier()
        start = time.perf_counter()
        generator.manual_seed(args.seed + epoch)
        order = torch.randperm(n, generator=generator)
        for k in range(steps):
            step_begin = k * global_batch
            step_samples = min(global_batch, n - step_begin)
            begin = min(step_begin + rank * b, n)
            idx = order[begin:min(begin + b, n)]
            inputs, labels = x[idx], y[idx]
            optimizer.zero_grad()
            outputs = model(inputs)
            # sum * N / global-step size: after DDP's mean over N ranks, the global batch's mean.
            loss = criterion(outputs, labels) * (world / step_samples)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        dist.barrier()
        seconds = time.perf_counter() - start
        epoch_seconds.append(seconds)
        rates.append(n / seconds)
        # Rank 0's loss.item() is the mean loss of its own slice on full steps; no extra
        # communication is added to gather the other ranks' losses.
        losses.append(running_loss / steps)
        if rank == 0:
            accuracies.append(test_accuracy(model.module, test_x, test_y))
        if args.stop_at_target:
            # Rank 0 tells the others whether the target is reached (this also makes them wait for its evaluation).
            stop = torch.tensor([int(rank == 0 and epoch >= 1 and accuracies[-1] >= args.target)])
            dist.broadcast(stop, src=0)
            if stop.item():
                break
        else:
            dist.barrier()                             # the others wait for rank 0's evaluation

    result = None
    if rank == 0:
        reached = next((e for e, a in enumerate(accuracies) if args.target is not None and a >= args.target), None)
        result = {
            "implementation": "pytorch-ddp-gloo",
            "model": "mlp",
            "world_size": world,
            "batch_size_per_worker": b,
            "threads_per_process": torch.get_num_threads(),
            "torch": torch.__version__,
            "epoch_seconds": epoch_seconds,
            "samples_per_second": rates,
            "test_accuracy": accuracies[-1],
            "test_accuracy_per_epoch": accuracies,
            "target": args.target,
            "target_epoch": None if reached is None else reached + 1,
            "target_training_seconds": None if reached is None else sum(epoch_seconds[:reached + 1]),
            "stopped_at_target": args.stop_at_target and reached is not None and len(epoch_seconds) < args.epochs,
            **hook,
            "global_batch_size": global_batch,
            "steps_per_epoch": steps,
            "samples_per_epoch": n,
            "rank0_train_loss": losses,
            "first_epoch_is_warmup": True,
        }
    return result


def allreduce(rank, args):
    sizes = [("mlp", parameter_count(Net())), ("cnn", parameter_count(SimpleCNN()))]
    results = []
    for name, floats in sizes:
        tensor = torch.ones(floats, dtype=torch.float32)
        for _ in range(WARMUP_ALLREDUCES):
            dist.barrier()
            dist.all_reduce(tensor)
        times = []
        for _ in range(args.repeats):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(tensor)                    # synchronous: returns when the reduction is complete
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        results.append({
            "model": name,
            "floats": floats,
            "bytes": floats * 4,
            "median_ms": median * 1e3,
            "min_ms": min(times) * 1e3,
            "max_ms": max(times) * 1e3,
            "gb_per_s": floats * 4 / median / 1e9,    # payload (one tensor) per median call, 1e9 bytes
        })
    if rank != 0:
        return None
    return {
        "implementation": "pytorch-ddp-gloo",
        "world_size": args.world_size,
        "threads_per_process": torch.get_num_threads(),
        "torch": torch.__version__,
        "warmup": WARMUP_ALLREDUCES,
        "repeats": args.repeats,
        "allreduce": results,
    }


def run(rank, args, port):
    os.environ["MASTER_ADDR"] = args.master_addr
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", rank=rank, world_size=args.world_size,
                            timeout=timedelta(minutes=10))
    try:
        result = allreduce(rank, args) if args.allreduce_only else train(rank, args)
        if rank == 0:
            print(json.dumps(result), flush=True)
    finally:
        dist.destroy_process_group()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp",
                        help="mlp: train the MNIST MLP with DDP (default). cnn: only with "
                             "--allreduce-only (CNN training is not implemented here).")
    parser.add_argument("--allreduce-only", action="store_true",
                        help="time gloo all_reduce of the MLP's and the CNN's parameter counts "
                             "(both, whatever --model says) instead of training; needs no data")
    parser.add_argument("--world-size", type=int, default=2,
                        help="number of processes spawned on this machine (default 2)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="samples per process per step; the global batch is world size x this (default 64)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads in every process (default 1)")
    parser.add_argument("--epochs", type=int, default=3,
                        help="training epochs, all timed; the first is warm-up (default 3)")
    parser.add_argument("--repeats", type=int, default=50,
                        help=f"timed all_reduce calls per size with --allreduce-only, after "
                             f"{WARMUP_ALLREDUCES} warm-up calls (default 50)")
    parser.add_argument("--hook", choices=["none", "fp16", "bf16", "powersgd"], default="none",
                        help="DDP communication hook: none (float32 allreduce, default), fp16 "
                             "(fp16_compress_hook), bf16 (bf16_compress_hook) or powersgd (powerSGD_hook)")
    parser.add_argument("--powersgd-rank", type=int, default=2,
                        help="PowerSGD's matrix approximation rank with --hook powersgd (default 2)")
    parser.add_argument("--powersgd-start", type=int, default=10,
                        help="steps of vanilla allreduce before PowerSGD starts, with --hook powersgd "
                             "(at least 2, PyTorch's minimum with error feedback; default 10)")
    parser.add_argument("--target", type=float, default=None,
                        help="test accuracy (0-1) whose first epoch and training seconds the result names")
    parser.add_argument("--stop-at-target", action="store_true",
                        help="end training after the first epoch (from the second on) whose test accuracy reaches --target")
    parser.add_argument("--rank", type=int, default=None,
                        help="run only this rank, in this process (one process per host), instead of "
                             "spawning --world-size processes here")
    parser.add_argument("--master-addr", default="127.0.0.1",
                        help="address of rank 0's rendezvous (default 127.0.0.1)")
    parser.add_argument("--master-port", type=int, default=None,
                        help="port of rank 0's rendezvous (default: a free port when spawning, 29500 with --rank)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for the initial weights; epoch e's order uses seed + e (default 0)")
    parser.add_argument("--data-dir", default=os.environ.get("TRAINER_DATA_DIR", "/work/shared/data"),
                        help="folder holding mnist/ with the IDX .gz files (default $TRAINER_DATA_DIR, "
                             "else /work/shared/data); not read with --allreduce-only")
    args = parser.parse_args()

    if args.world_size < 1 or args.batch_size < 1 or args.threads < 1 or args.epochs < 1 or args.repeats < 1:
        parser.error("--world-size, --batch-size, --threads, --epochs and --repeats must be positive")
    if args.powersgd_rank < 1 or args.powersgd_start < 2:
        parser.error("--powersgd-rank must be positive and --powersgd-start at least 2")
    if args.target is not None and not 0 < args.target <= 1:
        parser.error("--target must be in (0, 1]")
    if args.stop_at_target and args.target is None:
        parser.error("--stop-at-target needs --target")
    if args.rank is not None and not 0 <= args.rank < args.world_size:
        parser.error(f"--rank must be in 0..{args.world_size - 1} (--world-size {args.world_size})")
    if args.master_port is not None and not 0 < args.master_port < 65536:
        parser.error("--master-port must be in 1..65535")
    if args.model == "cnn" and not args.allreduce_only:
        parser.error("--model cnn is only supported with --allreduce-only")
    if not args.allreduce_only:
        problem = check_data_dir(args.data_dir)
        if problem:
            print(f"pytorch_ddp.py: {problem}", file=sys.stderr)
            sys.exit(2)

    if args.rank is not None:
        try:
            run(args.rank, args, args.master_port or 29500)
        except Exception as error:
            print(f"pytorch_ddp.py: rank {args.rank} failed: {error}", file=sys.stderr)
            sys.exit(1)
        return
    port = args.master_port or free_port()
    try:
        mp.spawn(run, args=(args, port), nprocs=args.world_size, join=True)
    except Exception as error:                         # a rank failed; mp.spawn has stopped the others
        print(f"pytorch_ddp.py: a worker process failed: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
