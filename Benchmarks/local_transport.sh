#!/usr/bin/env bash
# `trainer local` sync (2 workers × 64) over inproc ZeroMQ and over the direct in-process transport,
# against `trainer train --batch-size 128 --threads 2` (the same global batch in one process): MLP on
# MNIST, the three run alternately in each round. Prints each run's samples/s (the median of its
# epochs after the first, which is warm-up), the medians over the rounds, their ratios to train, and
# the load average before each run and the share of the CPU other processes took during it.
#
# Usage: Benchmarks/local_transport.sh [DATA_DIR]   (default $TRAINER_DATA_DIR or /work/shared/data)
# Environment: ROUNDS (default 5), EPOCHS (default 3), TRAINER (default .build/release/trainer).
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh
DATA_DIR=${1:-${TRAINER_DATA_DIR:-/work/shared/data}}
ROUNDS=${ROUNDS:-5} EPOCHS=${EPOCHS:-3} TRAINER=${TRAINER:-.build/release/trainer}
[[ -x "$TRAINER" ]] || { echo "error: $TRAINER is missing: run swift build -c release" >&2; exit 1; }
[[ -d "$DATA_DIR/mnist" ]] || { echo "error: $DATA_DIR/mnist is missing (pass the data folder)" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

run() {  # NAME command...
    local name=$1; shift
    cut -d' ' -f1 /proc/loadavg > "$OUT/$name.loadavg"
    measured "$name" "$@" > "$OUT/$name.log" 2> "$OUT/$name.err" || { tail -n 20 "$OUT/$name.err" >&2; exit 1; }
}
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round/$ROUNDS" >&2
    run "train-r$round" "$TRAINER" train --model mlp --dataset mnist --batch-size 128 --threads 2 --epochs "$EPOCHS" \
        --data-dir "$DATA_DIR"
    for transport in inproc direct; do
        run "$transport-r$round" "$TRAINER" local --workers 2 --mode sync --transport "$transport" --batch-size 64 \
            --epochs "$EPOCHS" --data-dir "$DATA_DIR"
    done
done

python3 - "$OUT" "$ROUNDS" <<'PY'
import os, re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
ticks = os.sysconf("SC_CLK_TCK"); cpus = os.cpu_count()
def run(name):
    text = open(f"{out}/{name}.log").read()
    rates = [int(m) for m in re.findall(r"^Epoch \d+/\d+:.* (\d+) samples/s", text, re.M)][1:]
    other, _, wall = open(f"{out}/{name}.load").read().split()
    share = int(other) / ticks / (float(wall) * cpus)
    return statistics.median(rates), float(open(f"{out}/{name}.loadavg").read()), share
configs = ["train", "inproc", "direct"]
table = {c: [run(f"{c}-r{r}") for r in range(1, rounds + 1)] for c in configs}
print("round  " + "  ".join(f"{c:>24}" for c in configs))
for r in range(rounds):
    print(f"{r + 1:>5}  " + "  ".join(f"{table[c][r][0]:>8.0f} (load {table[c][r][1]:4.1f}, other {table[c][r][2]:4.0%})" for c in configs))
medians = {c: statistics.median(x[0] for x in table[c]) for c in configs}
for c in configs:
    ratios = [table[c][r][0] / table["train"][r][0] for r in range(rounds)]
    print(f"{c:>7}: median {medians[c]:.0f} samples/s, {medians[c] / medians['train']:.2f}x train "
          f"(per-round ratios {min(ratios):.2f}-{max(ratios):.2f}x)")
PY
