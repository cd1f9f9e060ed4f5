#!/usr/bin/env python3
"""Writes the small seed corpora under Fuzz/Corpus/ (run once; the files are committed).

Checkpoints, state files and metrics come from real trainer runs on XOR: pass their folder as
the first argument (it must hold seed.safetensors, seed.state, seed-train.jsonl, seed-local.jsonl).
"""
import gzip, hashlib, io, json, os, shutil, struct, sys, tarfile

here = os.path.dirname(os.path.abspath(__file__))
runs = sys.argv[1]


def put(target, name, data):
    folder = os.path.join(here, "Corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def idx(rank, dims, body):
    return bytes([0, 0, 8, rank]) + b"".join(struct.pack(">I", d) for d in dims) + body

images = idx(3, [2, 3, 3], bytes(range(18)))
put("IDX", "images", images)
put("IDX", "labels", idx(1, [4], bytes([1, 2, 3, 9])))
put("IDX", "images.gz", gzip.compress(images, mtime=0))

record = bytes([7]) + bytes(i % 256 for i in range(3072))
put("CIFAR", "one-record", record)
put("CIFAR", "two-records.gz", gzip.compress(record * 2, mtime=0))

shutil.copy(os.path.join(runs, "seed.safetensors"), os.path.join(here, "Corpus", "Safetensors", "xor-mlp"))
put("Safetensors", "tiny", (lambda h: struct.pack("<Q", len(h)) + h + struct.pack("<2f", 1.5, -2))(
    json.dumps({"__metadata__": {"format": "pt"}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()))
shutil.copy(os.path.join(runs, "seed.state"), os.path.join(here, "Corpus", "ServerState", "xor-sync"))


def message(kind, sender, step=0, fingerprint=0x1122334455667788, flags=0, payload=()):
    header = b"ATPS" + struct.pack("<HHIIQQQ", 5, kind, sender, flags, step, fingerprint, sum(len(p) for p in payload))
    return b"".join(struct.pack("<H", len(f)) + f for f in [header, *payload])

description = json.dumps({"name": "xor", "train_count": 4, "test_count": 4, "checksum": "0123456789abcdef"}).encode()
put("Wire", "hello", message(11, 0xFFFFFFFE, fingerprint=0))
put("Wire", "join", message(1, 0xFFFFFFFE, fingerprint=0, payload=[description]))
put("Wire", "heartbeat", message(10, 0))
put("Wire", "push", message(3, 0, step=3, flags=1, payload=[struct.pack("<Qd", 4, 0.69), struct.pack("<105f", *([0.01] * 105))]))
put("Wire", "error", message(9, 1, payload=[b"out of memory"]))
bf16 = b"".join(struct.pack("<H", 0x3C23) for _ in range(105))
put("Wire", "push-bf16", message(3, 0, step=3, flags=2, payload=[struct.pack("<Qd", 4, 0.69), bf16]))
topk = struct.pack("<I", 3) + struct.pack("<3I", 1, 50, 104) + struct.pack("<3f", 0.5, -0.25, 2)
put("Wire", "push-topk", message(3, 0, step=3, flags=3, payload=[struct.pack("<Qd", 4, 0.69), topk]))
put("Wire", "weights-delta", message(13, 0xFFFFFFFF, step=4, payload=[topk]))
put("Wire", "gradient-part", message(14, 0, step=3, payload=[struct.pack("<Q", 100), struct.pack("<5f", *([0.01] * 5))]))
put("Wire", "push-parts", message(3, 0, step=3, flags=4, payload=[struct.pack("<Qd", 4, 0.69), struct.pack("<100f", *([0.01] * 100))]))
put("Wire", "epoch-end", message(5, 0, payload=[struct.pack("<Q", 1)]))
put("Wire", "shard-join", message(15, 0xFFFFFFFE, step=40, fingerprint=0, payload=[struct.pack("<IIIQ", 1, 1, 2, 1280), description]))
put("Wire", "shard-weights", message(16, 0xFFFFFFFF, step=40, payload=[struct.pack("<II", 1, 3), struct.pack("<52f", *([0.01] * 52))]))
put("Wire", "evaluation-result", message(7, 0, payload=[struct.pack("<Qdd", 4, 0.5, 0.75)]))

for name in ["seed-train.jsonl", "seed-local.jsonl"]:
    shutil.copy(os.path.join(runs, name), os.path.join(here, "Corpus", "Metrics", name.replace("seed-", "")))

digest = hashlib.sha256(b"data").hexdigest()
put("ChecksumList", "sha256sums", f"{digest}  train-images-idx3-ubyte.gz\n{digest} *t10k-labels-idx1-ubyte.gz\n".encode())

buffer = io.BytesIO()
with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
    for name, data in [("cifar-10-batches-bin/batches.meta.txt", b"airplane\n"), ("cifar-10-batches-bin/" + "x" * 120, b"long name")]:
        info = tarfile.TarInfo(name)
        info.size, info.mtime = len(data), 0
        archive.addfile(info, io.BytesIO(data))
put("Tar", "gnu.tar", buffer.getvalue())
put("Tar", "gnu.tar.gz", gzip.compress(buffer.getvalue(), mtime=0))
buffer = io.BytesIO()
with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
    info = tarfile.TarInfo("pax/" + "é" * 60)
    info.size, info.mtime = 3, 0
    archive.addfile(info, io.BytesIO(b"abc"))
put("Tar", "pax.tar", buffer.getvalue())
