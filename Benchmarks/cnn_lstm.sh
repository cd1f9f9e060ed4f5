#!/usr/bin/env bash
# CNN samples/second on CIFAR-10 (training and inference) and sine-model training time, Swift vs
# PyTorch (issues 3 and 15).
#
# Builds `trainer` in release and runs, alternately for ROUNDS rounds: the tutorial's CNN on
# data_batch_1 (batch 64, EPOCHS epochs, the first discarded as warm-up), CNN inference (batches of
# 1000 in evaluation mode, EPOCHS passes over the 10000 images, the first discarded; Swift:
# Benchmarks/EngineProfile --inference) and the sine LSTM, GRU and RNN (100 full-batch Adam epochs),
# each next to the same model in PyTorch at THREADS threads. Records the share of the machine other
# processes took during every run. Writes the section "## CNN and LSTM training, one process
# (issue 3)" of docs/benchmarks.md.
#
#   Benchmarks/cnn_lstm.sh                # ROUNDS=3 EPOCHS=3 THREADS=2
#   TRAINER=… ENGINE_PROFILE=… Benchmarks/cnn_lstm.sh   # binaries already built, no build
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
# measured, build_engine_tool
source Benchmarks/common.sh

if [[ -n "${TRAINER:-}" && -n "${ENGINE_PROFILE:-}" ]]; then
    echo "== using the given $TRAINER and $ENGINE_PROFILE"
else
    echo "== building trainer and EngineProfile (release, scratch path $SCRATCH)"
    swift build -c release --product trainer --scratch-path "$SCRATCH" > "$OUT/build.log" 2>&1 || { cat "$OUT/build.log" >&2; exit 1; }
    ENGINE_PROFILE="$OUT/EngineProfile"
    build_engine_tool EngineProfile "$SCRATCH" "$ENGINE_PROFILE" 2>> "$OUT/build.log" || { cat "$OUT/build.log" >&2; exit 1; }
    TRAINER="$SCRATCH/release/trainer"
fi
INFERENCE_STEPS=$((EPOCHS * 10))

for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round/$ROUNDS"
    measured "swift-cnn-$round" "$TRAINER" train --model cnn --dataset cifar10 --data-dir "$DATA_DIR" --epochs "$EPOCHS" \
        --threads "$THREADS" --metrics "$OUT/swift-cnn-$round.jsonl" > "$OUT/swift-cnn-$round.log"
    measured "torch-cnn-$round" "$PYTHON" Benchmarks/pytorch_cnn_lstm.py cnn --epochs "$EPOCHS" --threads "$THREADS" \
        --data-dir "$DATA_DIR" > "$OUT/torch-cnn-$round.json"
    measured "swift-infer-$round" "$ENGINE_PROFILE" --model cnn --inference --batch 1000 --steps "$INFERENCE_STEPS" \
        --warmup 10 --threads "$THREADS" --data-dir "$DATA_DIR" > "$OUT/swift-infer-$round.log"
    measured "torch-infer-$round" "$PYTHON" Benchmarks/pytorch_cnn_lstm.py cnn-inference --epochs "$((EPOCHS + 1))" \
        --threads "$THREADS" --data-dir "$DATA_DIR" > "$OUT/torch-infer-$round.json"
    for model in lstm gru rnn; do
        measured "swift-$model-$round" "$TRAINER" train --model "$model" --dataset sine --threads "$THREADS" \
            --metrics "$OUT/swift-$model-$round.jsonl" > /dev/null
        measured "torch-$model-$round" "$PYTHON" Benchmarks/pytorch_cnn_lstm.py "$model" --threads "$THREADS" > "$OUT/torch-$model-$round.json"
    done
done

export BENCH_OUT="$OUT" BENCH_ROUNDS="$ROUNDS" BENCH_EPOCHS="$EPOCHS" BENCH_THREADS="$THREADS"
export BENCH_CLK_TCK=$(getconf CLK_TCK) BENCH_LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
export BENCH_CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1) BENCH_NPROC=$(nproc)
export BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC') BENCH_CORETYPE=${OPENBLAS_CORETYPE-unset}
export BENCH_CORE=$(sed -n 's/.*OpenBLAS \([^ ]*\) with.*/\1/p' "$OUT/swift-cnn-1.log")
export BENCH_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ' with uncommitted changes to Sources/')"
"$PYTHON" - <<'PY'
import json, os, re, statistics, sys
sys.path.insert(0, "Benchmarks")
from benchmarks_doc import DISTURBED, other_load, write_section
env = os.environ
out, rounds = env["BENCH_OUT"], int(env["BENCH_ROUNDS"])
tick, ncpu = int(env["BENCH_CLK_TCK"]), int(env["BENCH_NPROC"])
def lines(path): return [json.loads(l) for l in open(path)]
def load(name): return other_load(f"{out}/{name}.load", tick, ncpu)
swift_cnn = [e["samples_per_second"] for r in range(1, rounds + 1)
             for e in [x for x in lines(f"{out}/swift-cnn-{r}.jsonl") if x["event"] == "epoch"][1:]]
torch_cnn = [x for r in range(1, rounds + 1) for x in json.load(open(f"{out}/torch-cnn-{r}.json"))["samples_per_second"][1:]]
swift_infer = [float(re.search(r"\(([0-9.]+) samples/s\)", open(f"{out}/swift-infer-{r}.log").read()).group(1))
               for r in range(1, rounds + 1)]
torch_infer = [x for r in range(1, rounds + 1) for x in json.load(open(f"{out}/torch-infer-{r}.json"))["samples_per_second"][1:]]
torch_version = json.load(open(f"{out}/torch-cnn-1.json"))["torch"]
rows = [("CNN training, CIFAR-10 batch 64 (samples/s, higher is better)",
         statistics.median(swift_cnn), min(swift_cnn), max(swift_cnn),
         statistics.median(torch_cnn), min(torch_cnn), max(torch_cnn), True),
        ("CNN inference, batches of 1000 (samples/s, higher is better)",
         statistics.median(swift_infer), min(swift_infer), max(swift_infer),
         statistics.median(torch_infer), min(torch_infer), max(torch_infer), True)]
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
names = [f"{side}-{task}-{r}" for r in range(1, rounds + 1) for task in ("cnn", "infer", "lstm", "gru", "rnn")
         for side in ("swift", "torch")]
loads = {name: load(name) for name in names}
disturbed = [name for name in names if loads[name] > DISTURBED]
load_note = (f"{len(disturbed)} of {len(names)} runs had other processes taking more than {DISTURBED:.0%} of the machine "
             f"(up to {max(loads.values()):.0%}; CNN training runs: "
             + ", ".join(f"{loads[n]:.0%}" for n in names if "-cnn-" in n) + ")"
             if disturbed else f"no run had other processes taking more than {DISTURBED:.0%} of the machine")
if len(disturbed) > len(names) // 2:
    load_note = f"**{load_note}: the machine was loaded, the figures are noisy; re-run on an idle machine**"
def run_medians(side):
    """The median samples/s after the first epoch of each CNN training run, in run order."""
    if side == "swift":
        per_run = [[e["samples_per_second"] for e in lines(f"{out}/swift-cnn-{r}.jsonl") if e["event"] == "epoch"][1:]
                   for r in range(1, rounds + 1)]
    else:
        per_run = [json.load(open(f"{out}/torch-cnn-{r}.json"))["samples_per_second"][1:] for r in range(1, rounds + 1)]
    return [statistics.median(rates) for rates in per_run]
swift_runs, torch_runs = run_medians("swift"), run_medians("torch")
section = f"""## CNN and LSTM training, one process (issue 3)

Measured {env['BENCH_DATE']} on {env['BENCH_CPU']} ({env['BENCH_NPROC']} cores), OpenBLAS core
`{env['BENCH_CORE']}` (OPENBLAS_CORETYPE={env['BENCH_CORETYPE']}), PyTorch {torch_version} (CPU, oneDNN),
both at {env['BENCH_THREADS']} threads; source {env['BENCH_COMMIT']}.
Command: `ROUNDS={rounds} EPOCHS={env['BENCH_EPOCHS']} THREADS={env['BENCH_THREADS']} Benchmarks/cnn_lstm.sh`
(Swift: `trainer train --model cnn --dataset cifar10 --epochs {env['BENCH_EPOCHS']}`, `Benchmarks/EngineProfile --inference
--batch 1000` and `trainer train --model lstm|gru|rnn --dataset sine`; PyTorch: `Benchmarks/pytorch_cnn_lstm.py`).
CNN training figures are the epochs after the first of each run, over {rounds} runs; inference figures are
per run (Swift: the mean over its timed batches) or per pass after the first (PyTorch); sequence figures are
the whole 100-epoch runs (Swift: the metrics file's `seconds`, training only).

{chr(10).join(table)}

- Load: {load_note}; load average at the end {env['BENCH_LOADAVG']}
- CNN training per run (samples/s, in run order): Swift {', '.join(f"{x:,.0f}" for x in swift_runs)}; PyTorch
  {', '.join(f"{x:,.0f}" for x in torch_runs)}; Swift/PyTorch within each round: {', '.join(f"{a / b:.2f}×" for a, b in zip(swift_runs, torch_runs))}
"""
print(section)
write_section("docs/benchmarks.md", section)
PY
