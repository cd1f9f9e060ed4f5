"""MNIST for the PyTorch reference scripts: the IDX files (gzip or plain) read with gzip + numpy, no
torchvision, normalised as (x/255 - 0.5)/0.5 like the Swift loader. Imported by pytorch_mlp.py and
pytorch_ddp.py (Python puts a script's own folder first on its import path)."""

import gzip
import os
import struct

import numpy as np
import torch


def read_idx(path):
    """Reads an IDX file (gzip or plain) into a numpy array of its declared shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4].hex()})")
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {body.size} bytes of data for shape {shape}")
    return body.reshape(shape)


def find(folder, stem):
    """The path of STEM.gz or STEM in FOLDER."""
    for name in (stem + ".gz", stem):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{folder}: no {stem}(.gz)")


def load_mnist(data_dir, split):
    """split "train" or "t10k": (x float32 [n, 784] normalised, y int64 [n])."""
    folder = os.path.join(data_dir, "mnist")
    images = read_idx(find(folder, f"{split}-images-idx3-ubyte"))
    labels = read_idx(find(folder, f"{split}-labels-idx1-ubyte"))
    x = torch.from_numpy(images.astype(np.float32)).reshape(-1, 784)
    x = (x / 255.0 - 0.5) / 0.5
    y = torch.from_numpy(labels.astype(np.int64))
    return x.contiguous(), y
