#!/usr/bin/env bash
# The sine regressors' training MSE over many seeds, Swift `trainer train` next to PyTorch (issue 15).
#
# For each of rnn, lstm and gru and each seed 0 ..< SEEDS: `trainer train --model M --dataset sine
# --seed S` (the tutorial's 100 full-batch Adam epochs on the 980 windows) and the same model in
# PyTorch (`Benchmarks/pytorch_sine.py`, `torch.manual_seed(S)`). Both sides report the MSE of the
# trained model over the series (the last `test_loss` of the metrics file; PyTorch: `model.eval()`
# under `torch.no_grad()`) and the loss of the last epoch before its update (`train_loss`; PyTorch:
# the last `loss.item()`). PyTorch then trains again from each of Swift's initial weights (dumped by
# Benchmarks/SineCheck, which trains exactly as `trainer train` does). Writes the section "## Sine series: training MSE over seeds (issue 15)"
# of docs/benchmarks.md with the medians, quartiles and their ratios.
#
#   Benchmarks/sine_seeds.sh                 # SEEDS=20
#   TRAINER=… SINE_CHECK=… Benchmarks/sine_seeds.sh   # binaries already built, no build
set -euo pipefail

cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-20}
SCRATCH=${SCRATCH:-.build-bench}
PYTHON=${PYTHON:-python3}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# build_engine_tool
source Benchmarks/common.sh
if [[ -n "${TRAINER:-}" && -n "${SINE_CHECK:-}" ]]; then
    echo "== using the given $TRAINER and $SINE_CHECK"
else
    echo "== building trainer and SineCheck (release, scratch path $SCRATCH)"
    swift build -c release --product trainer --scratch-path "$SCRATCH" > "$OUT/build.log" 2>&1 || { cat "$OUT/build.log" >&2; exit 1; }
    TRAINER="$SCRATCH/release/trainer" SINE_CHECK="$OUT/SineCheck"
    build_engine_tool SineCheck "$SCRATCH" "$SINE_CHECK" 2>> "$OUT/build.log" || { cat "$OUT/build.log" >&2; exit 1; }
fi
mkdir -p "$OUT/init"

for model in rnn lstm gru; do
    echo "== $model: $SEEDS seeds each side"
    for seed in $(seq 0 $((SEEDS - 1))); do
        "$TRAINER" train --model "$model" --dataset sine --seed "$seed" --threads 1 \
            --metrics "$OUT/swift-$model-$seed.jsonl" > /dev/null
        "$SINE_CHECK" --model "$model" --seed "$seed" --dump-init "$OUT/init/$model-$seed.safetensors" > /dev/null
    done
    "$PYTHON" Benchmarks/pytorch_sine.py --models "$model" --seeds "$SEEDS" --threads 1 > "$OUT/torch-$model.jsonl"
    "$PYTHON" Benchmarks/pytorch_sine.py --models "$model" --seeds "$SEEDS" --threads 1 --init "$OUT/init" \
        > "$OUT/torch-from-swift-$model.jsonl"
done

export BENCH_OUT="$OUT" BENCH_SEEDS="$SEEDS"
export BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
export BENCH_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ' with uncommitted changes to Sources/')"
"$PYTHON" - <<'PY'
import json, os, statistics, sys
sys.path.insert(0, "Benchmarks")
from benchmarks_doc import write_section

env = os.environ
out, seeds = env["BENCH_OUT"], int(env["BENCH_SEEDS"])

def quartiles(values):
    q = statistics.quantiles(values, n=4)
    return q[0], statistics.median(values), q[2]

rows, torch_version = [], "unknown"
for model in ("rnn", "lstm", "gru"):
    swift_events = [[json.loads(l) for l in open(f"{out}/swift-{model}-{s}.jsonl")] for s in range(seeds)]
    swift_mse = [e[-1]["test_loss"] for e in swift_events]
    swift_last = [[x for x in e if x.get("event") == "epoch"][-1]["train_loss"] for e in swift_events]
    torch_runs = [json.loads(l) for l in open(f"{out}/torch-{model}.jsonl")]
    torch_version = torch_runs[0]["torch"]
    torch_mse = [r["mse"] for r in torch_runs]
    torch_last = [r["last_epoch_loss"] for r in torch_runs]
    same_init = [json.loads(l)["mse"] for l in open(f"{out}/torch-from-swift-{model}.jsonl")]
    same_ratios = [a / b for a, b in zip(swift_mse, same_init)]
    rows.append((model, quartiles(swift_mse), quartiles(torch_mse), quartiles(swift_last), quartiles(torch_last),
                 statistics.median(same_init), min(same_ratios), max(same_ratios)))

def fmt(q):
    return f"{q[1]:.3g} ({q[0]:.3g}–{q[2]:.3g})"

table = ["| model | Swift MSE, median (quartiles) | PyTorch MSE, median (quartiles) | ratio of medians | Swift last-epoch loss | PyTorch last-epoch loss | ratio | PyTorch from Swift's initial weights, median MSE | Swift / that, per seed |",
         "| --- | --- | --- | ---: | --- | --- | ---: | ---: | ---: |"]
for model, sm, tm, sl, tl, same, low, high in rows:
    table.append(f"| {model.upper()} | {fmt(sm)} | {fmt(tm)} | {sm[1] / tm[1]:.2f}× | {fmt(sl)} | {fmt(tl)} | {sl[1] / tl[1]:.2f}× "
                 f"| {same:.3g} | {low:.3f}–{high:.3f} |")

section = f"""## Sine series: training MSE over seeds (issue 15)

The tutorial's sequence regressors (RNN, LSTM, GRU with 32 hidden units → Linear(32, 1)) on the
980 windows of 20 values of sin t, t = 0, 0.1, …, 99.9 (`np.arange(0, 100, 0.1)`), target the next
value; MSELoss, full-batch Adam lr 0.01, 100 epochs, seeds 0–{seeds - 1} on each side (`trainer train --seed S`;
PyTorch `torch.manual_seed(S)`, so the two sides start from different draws of the same
distributions). MSE is the trained model's error over the series (Swift: the last `test_loss`;
PyTorch: `model.eval()` under `torch.no_grad()`); last-epoch loss is the 100th epoch's loss before
its update (what the tutorial prints). Lower is better; a ratio above 1 means Swift's error is larger.
The last two columns train PyTorch again from each seed's Swift initial weights: a per-seed ratio of 1
means the two sides train identically from the same start, so any gap between the medians comes from
the initial draws (20 seeds of a spread-out distribution), not from the data, the layers or Adam.

{chr(10).join(table)}

- Command: `SEEDS={seeds} Benchmarks/sine_seeds.sh` (`Benchmarks/pytorch_sine.py` is the PyTorch side)
- PyTorch {torch_version}, one thread each side; date {env['BENCH_DATE']}; commit {env['BENCH_COMMIT']}
"""
print(section)
write_section("docs/benchmarks.md", section)
PY
