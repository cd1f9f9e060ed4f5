#!/usr/bin/env bash
# CNN samples/second on CIFAR-10 and sine-LSTM training time, Swift `trainer train` vs PyTorch (issue 3).
#
# Builds `trainer` in release and runs, alternately for ROUNDS rounds: the tutorial's CNN on
# data_batch_1 (batch 64, EPOCHS epochs, the first discarded as warm-up) and the sine LSTM
# (100 full-batch Adam epochs), each next to the same model in PyTorch at THREADS threads.
# Writes the section "## CNN and LSTM training, one process (issue 3)" of docs/benchmarks.md.
#
#   Benchmarks/cnn_lstm.sh                # ROUNDS=3 EPOCHS=3 THREADS=2
# Run it on an otherwise idle machine: another process on the two cores distorts both sides.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
EPOCHS=${EPOCHS:-3}
THREADS=${THREADS:-2}
SCRATCH=${SCRATCH:-.build-bench}
PYTHON=${PYTHON:-python3}
DATA_DIR=$(realpath "${DATA_DIR:-${TRAINER_DATA_DIR:-../shared/data}}")
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

echo "== building trainer (release, scratch path $SCRATCH)"
swift build -c release --product trainer --scratch-path "$SCRATCH" > "$OUT/build.log" 2>&1 || { cat "$OUT/build.log" >&2; exit 1; }
TRAINER="$SCRATCH/release/trainer"

for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round/$ROUNDS"
    "$TRAINER" train --model cnn --dataset cifar10 --data-dir "$DATA_DIR" --epochs "$EPOCHS" --threads "$THREADS" \
        --metrics "$OUT/swift-cnn-$round.jsonl" > "$OUT/swift-cnn-$round.log"
    "$PYTHON" Benchmarks/pytorch_cnn_lstm.py cnn --epochs "$EPOCHS" --threads "$THREADS" --data-dir "$DATA_DIR" > "$OUT/torch-cnn-$round.json"
    for model in lstm gru rnn; do
        "$TRAINER" train --model "$model" --dataset sine --threads "$THREADS" --metrics "$OUT/swift-$model-$round.jsonl" > /dev/null
        "$PYTHON" Benchmarks/pytorch_cnn_lstm.py "$model" --threads "$THREADS" > "$OUT/torch-$model-$round.json"
    done
done

export BENCH_OUT="$OUT" BENCH_ROUNDS="$ROUNDS" BENCH_EPOCHS="$EPOCHS" BENCH_THREADS="$THREADS"
export BENCH_CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1) BENCH_NPROC=$(nproc)
export BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC') BENCH_CORETYPE=${OPENBLAS_CORETYPE-unset}
export BENCH_CORE=$(sed -n 's/.*OpenBLAS \([^ ]*\) with.*/\1/p' "$OUT/swift-cnn-1.log")
export BENCH_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ' with uncommitted changes to Sources/')"
"$PYTHON" - <<'PY'
import json, os, re, statistics, sys
env = os.environ
out, rounds = env["BENCH_OUT"], int(env["BENCH_ROUNDS"])
def lines(path): return [json.loads(l) for l in open(path)]
swift_cnn = [e["samples_per_second"] for r in range(1, rounds + 1)
             for e in lines(f"{out}/swift-cnn-{r}.jsonl")[2:] if e["event"] == "epoch"]
torch_cnn = [x for r in range(1, rounds + 1) for x in json.load(open(f"{out}/torch-cnn-{r}.json"))["samples_per_second"][1:]]
torch_version = json.load(open(f"{out}/torch-cnn-1.json"))["torch"]
rows = [("CNN, CIFAR-10 batch 64 (samples/s, higher is better)",
         statistics.median(swift_cnn), min(swift_cnn), max(swift_cnn),
         statistics.median(torch_cnn), min(torch_cnn), max(torch_cnn), True)]
for model in ("lstm", "gru", "rnn"):
    swift = [lines(f"{out}/swift-{model}-{r}.jsonl")[-1]["seconds"] for r in range(1, rounds + 1)]
    torch_s = [json.load(open(f"{out}/torch-{model}-{r}.json"))["seconds_for_100_epochs"] for r in range(1, rounds + 1)]
    rows.append((f"{model.upper()}, sine, 100 full-batch Adam epochs (seconds, lower is better)",
                 statistics.median(swift), min(swift), max(swift),
                 statistics.median(torch_s), min(torch_s), max(torch_s), False))
table = ["| task | Swift `trainer` median (min–max) | PyTorch median (min–max) | speed-up (PyTorch time / Swift time) |",
         "| --- | --- | --- | --- |"]
for name, s, s0, s1, t, t0, t1, rate in rows:
    fmt = (lambda v: f"{v:,.0f}") if rate else (lambda v: f"{v:.3f}")
    ratio = s / t if rate else t / s
    table.append(f"| {name} | {fmt(s)} ({fmt(s0)}–{fmt(s1)}) | {fmt(t)} ({fmt(t0)}–{fmt(t1)}) | {ratio:.2f}× |")
section = f"""## CNN and LSTM training, one process (issue 3)

Measured {env['BENCH_DATE']} on {env['BENCH_CPU']} ({env['BENCH_NPROC']} cores), OpenBLAS core
`{env['BENCH_CORE']}` (OPENBLAS_CORETYPE={env['BENCH_CORETYPE']}), PyTorch {torch_version} (CPU, oneDNN),
both at {env['BENCH_THREADS']} threads; source {env['BENCH_COMMIT']}.
Command: `ROUNDS={rounds} EPOCHS={env['BENCH_EPOCHS']} THREADS={env['BENCH_THREADS']} Benchmarks/cnn_lstm.sh`
(Swift: `trainer train --model cnn --dataset cifar10 --epochs {env['BENCH_EPOCHS']}` and `--model lstm|gru|rnn --dataset sine`;
PyTorch: `Benchmarks/pytorch_cnn_lstm.py`). CNN figures are the epochs after the first of each run, over {rounds} runs;
sequence figures are the whole 100-epoch runs (Swift: the metrics file's `seconds`, training only).

{chr(10).join(table)}
"""
print(section)
sys.path.insert(0, "Benchmarks")
from benchmarks_doc import write_section
write_section("docs/benchmarks.md", section)
PY
