#!/usr/bin/env bash
# Parameter server and workers vs one process vs PyTorch DDP, MNIST MLP samples/second (issue 4).
#
# Builds `trainer` and `ClusterBenchmark` in release, then trains the tutorial's MNIST MLP
# (784-128-64-10, SGD lr 0.01 momentum 0.9) with a global batch of 128, alternately, for ROUNDS
# rounds of EPOCHS epochs each:
#   - one process:   trainer train --model mlp --dataset mnist --batch-size 128 --threads 2
#   - local sync:    trainer local --workers 2 --mode sync --batch-size 64    (inproc, 1 BLAS thread per worker)
#   - local async:   trainer local --workers 2 --mode async --batch-size 64
#   - sync over tcp: trainer local --workers 2 --mode sync --batch-size 64 --transport tcp   (TCP=0 skips it)
#   - PyTorch DDP:   python3 Benchmarks/pytorch_ddp.py --world-size 2 --batch-size 64 --threads 1   (gloo)
# The first epoch of every run is warm-up and is discarded; figures are medians of the per-epoch
# samples/s of the other epochs (for `trainer local`, the server's training time per epoch, without
# the evaluation). The `trainer local` runs also print where each worker's time went (compute,
# exchange with the server, of which waiting for the other worker); the summary gives those per
# step. After the rounds, `ClusterBenchmark` times one step's round trip through a real server and
# worker against raw ZeroMQ moving the same bytes, and `pytorch_ddp.py --allreduce-only` times
# gloo's allreduce of the same sizes. Prints a summary and writes it as the section
# "## Cluster: parameter server and workers (issue 4)" of docs/benchmarks.md.
#
#   Benchmarks/cluster.sh                     # ROUNDS=3 EPOCHS=3
#   ROUNDS=5 EPOCHS=4 Benchmarks/cluster.sh
#
# Environment: ROUNDS, EPOCHS, TCP (1: also run local sync over tcp, the default; 0: skip it),
# DATA_DIR (default $TRAINER_DATA_DIR, else ../shared/data), SCRATCH (SwiftPM scratch path, default
# .build-bench), PYTHON (default python3), COMMIT (what to record as the measured source when the
# tree is not a git checkout). OPENBLAS_CORETYPE and friends are left as they are; the summary
# records them.
#
# Two workers and DDP's two processes fill both cores of a 2-core machine, so other processes
# distort every figure. The script measures, for each run, the CPU time the machine spent outside
# it (and steal); a round in which any run saw more than 5% of the machine taken is left out for
# all configurations, as long as a clean round remains. Never run two benchmarks at once.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
EPOCHS=${EPOCHS:-3}
TCP=${TCP:-1}
SCRATCH=${SCRATCH:-.build-bench}
PYTHON=${PYTHON:-python3}
DATA_DIR=$(realpath "${DATA_DIR:-${TRAINER_DATA_DIR:-../shared/data}}")
DOC=docs/benchmarks.md

if (( EPOCHS < 2 )); then echo "EPOCHS must be at least 2 (the first epoch is discarded)" >&2; exit 1; fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

for product in trainer ClusterBenchmark; do
    echo "== building $product (release, scratch path $SCRATCH)"
    if ! swift build -c release --product "$product" --scratch-path "$SCRATCH" > "$OUT/build.log" 2>&1; then
        cat "$OUT/build.log" >&2
        echo "error: the release build of $product failed" >&2
        exit 1
    fi
    tail -n 1 "$OUT/build.log"
done
TRAINER="$SCRATCH/release/trainer"
ROUNDTRIP="$SCRATCH/release/ClusterBenchmark"

# cpu_busy, cpu_steal, own_cpu: CPU time in clock ticks, to tell other processes' load from a run's own.
source Benchmarks/common.sh

# Runs a command with its output in $OUT/FILE and its standard error in $OUT/NAME.err, and writes
# "<other processes' ticks> <steal ticks> <wall seconds>" to $OUT/NAME.load; stops on a failure.
measured() {  # NAME FILE command...
    local name=$1 file=$2; shift 2
    local busy0 steal0 own0 start
    busy0=$(cpu_busy) steal0=$(cpu_steal) own0=$(own_cpu) start=$(date +%s.%N)
    if ! "$@" > "$OUT/$file" 2> "$OUT/$name.err"; then
        tail -n 20 "$OUT/$name.err" >&2
        echo "error: the run $name failed: $*" >&2
        exit 1
    fi
    echo "$(( $(cpu_busy) - busy0 - ($(own_cpu) - own0) )) $(( $(cpu_steal) - steal0 ))" \
         "$(echo "$(date +%s.%N) - $start" | bc)" > "$OUT/$name.load"
}

# Swift runs write NAME.jsonl (metrics) and NAME.log (their output); DDP writes NAME.json.
run_train() {  # round
    measured "train-r$1" "train-r$1.log" "$TRAINER" train --model mlp --dataset mnist --batch-size 128 --threads 2 \
        --epochs "$EPOCHS" --data-dir "$DATA_DIR" --metrics "$OUT/train-r$1.jsonl"
}
run_local() {  # config mode transport round
    measured "$1-r$4" "$1-r$4.log" "$TRAINER" local --workers 2 --mode "$2" --transport "$3" --batch-size 64 \
        --epochs "$EPOCHS" --data-dir "$DATA_DIR" --metrics "$OUT/$1-r$4.jsonl"
}
run_ddp() {  # round
    measured "ddp-r$1" "ddp-r$1.json" "$PYTHON" Benchmarks/pytorch_ddp.py --epochs "$EPOCHS" --world-size 2 \
        --batch-size 64 --threads 1 --data-dir "$DATA_DIR"
}

CONFIGS="train sync async"
if [[ "$TCP" == 1 ]]; then CONFIGS="$CONFIGS sync-tcp"; fi
CONFIGS="$CONFIGS ddp"
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round/$ROUNDS: $CONFIGS"
    run_train "$round"
    run_local sync sync inproc "$round"
    run_local async async inproc "$round"
    if [[ "$TCP" == 1 ]]; then run_local sync-tcp sync tcp "$round"; fi
    run_ddp "$round"
done

echo "== round trips: ClusterBenchmark, then gloo allreduce"
measured roundtrip roundtrip.json "$ROUNDTRIP"
measured allreduce allreduce.json "$PYTHON" Benchmarks/pytorch_ddp.py --allreduce-only

# What the numbers were measured on.
export BENCH_OUT="$OUT" BENCH_DOC="$DOC" BENCH_ROUNDS="$ROUNDS" BENCH_EPOCHS="$EPOCHS" BENCH_CONFIGS="$CONFIGS"
export BENCH_CLK_TCK=$(getconf CLK_TCK) BENCH_NPROC=$(nproc)
export BENCH_CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
export BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
export BENCH_CORETYPE=${OPENBLAS_CORETYPE-unset}
export BENCH_SWIFT=$(swift --version 2>&1 | sed -n 's/.*Swift version \([^ ]*\).*/\1/p' | head -n 1)
if [[ "$(git rev-parse --show-toplevel 2>/dev/null)" == "$PWD" ]]; then
    DEFAULT_COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources Package.swift Benchmarks/ClusterBenchmark \
        || echo ' with uncommitted changes to Sources/, Package.swift or Benchmarks/ClusterBenchmark/')"
fi
export BENCH_COMMIT=${COMMIT:-${DEFAULT_COMMIT:-unknown}}
export BENCH_COMMAND="ROUNDS=$ROUNDS EPOCHS=$EPOCHS TCP=$TCP Benchmarks/cluster.sh"
export BENCH_TRAIN_CMD="$TRAINER train --model mlp --dataset mnist --batch-size 128 --threads 2 --epochs $EPOCHS --data-dir DIR --metrics FILE"
export BENCH_LOCAL_CMD="$TRAINER local --workers 2 --mode sync|async [--transport tcp] --batch-size 64 --epochs $EPOCHS --data-dir DIR --metrics FILE"
export BENCH_DDP_CMD="$PYTHON Benchmarks/pytorch_ddp.py --epochs $EPOCHS --world-size 2 --batch-size 64 --threads 1 --data-dir DIR"
export BENCH_ROUNDTRIP_CMD="$ROUNDTRIP"
export BENCH_ALLREDUCE_CMD="$PYTHON Benchmarks/pytorch_ddp.py --allreduce-only"

"$PYTHON" - <<'EOF'
import json, os, re, statistics, sys
sys.path.insert(0, "Benchmarks")
from benchmarks_doc import DISTURBED, other_load as load_share, rounds_note, write_section

env = os.environ
out, doc = env["BENCH_OUT"], env["BENCH_DOC"]
tick, ncpu, rounds, epochs = int(env["BENCH_CLK_TCK"]), int(env["BENCH_NPROC"]), int(env["BENCH_ROUNDS"]), int(env["BENCH_EPOCHS"])
configs = env["BENCH_CONFIGS"].split()
names = {"train": "one process, `trainer train` (batch 128, 2 threads)",
         "sync": "`trainer local`, sync, inproc (2 workers × 64)",
         "async": "`trainer local`, async, inproc (2 workers × 64)",
         "sync-tcp": "`trainer local`, sync, tcp (2 workers × 64)",
         "ddp": "PyTorch DDP, gloo (2 processes × 64, 1 thread each)"}
WORKER_LINE = re.compile(r"Worker (\d+): (\d+) steps, (\d+) samples; compute ([\d.]+) s, exchange with the server ([\d.]+) s"
                         r"(?: \(of which waiting for the other workers ([\d.]+) s\))?")

def swift_epochs(name):
    return [e for e in map(json.loads, open(f"{out}/{name}.jsonl")) if e.get("event") == "epoch"]

def epoch_rates(name):
    """The samples/s of every epoch after the first (warm-up) of one run."""
    if name.startswith("ddp"):
        return json.load(open(f"{out}/{name}.json"))["samples_per_second"][1:]
    return [e["samples_per_second"] for e in swift_epochs(name)[1:]]

def other_load(name):
    return load_share(f"{out}/{name}.load", tick, ncpu)

load = {(c, r): other_load(f"{c}-r{r}") for c in configs for r in range(1, rounds + 1)}
clean = [r for r in range(1, rounds + 1) if all(load[c, r] <= DISTURBED for c in configs)]
used = clean or list(range(1, rounds + 1))

print("\nper run (median of the epochs after the first; other load = CPU share others took meanwhile):")
for c in configs:
    for r in range(1, rounds + 1):
        print(f"  {c + '-r' + str(r):<14} {statistics.median(epoch_rates(f'{c}-r{r}')):>10,.0f} samples/s   other load {load[c, r]:4.0%}")

results = {}
for c in configs:
    rates = [x for r in used for x in epoch_rates(f"{c}-r{r}")]
    results[c] = {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "epochs": len(rates), "runs": len(used)}
ratio = {c: results[c]["median"] / results["train"]["median"] for c in configs}
versus_ddp = {c: results[c]["median"] / results["ddp"]["median"] for c in configs}

# Where each worker's time went, per step, from the lines `trainer local` prints (whole runs, warm-up included).
breakdown = []
for c in [c for c in configs if c not in ("train", "ddp")]:
    per_worker = {}
    for r in used:
        for line in open(f"{out}/{c}-r{r}.log"):
            m = WORKER_LINE.search(line)
            if m:
                rank, steps = int(m[1]), int(m[2])
                compute, exchange = float(m[4]), float(m[5])
                wait = float(m[6]) if m[6] is not None else None
                per_worker.setdefault(rank, []).append((steps, compute, exchange, wait))
    for rank, runs in sorted(per_worker.items()):
        steps = statistics.median(s for s, *_ in runs)
        row = {"config": c, "rank": rank, "steps": steps,
               "compute": statistics.median(x[1] / x[0] for x in runs),
               "exchange": statistics.median(x[2] / x[0] for x in runs),
               "compute_epoch": statistics.median(x[1] / epochs for x in runs),
               "exchange_epoch": statistics.median(x[2] / epochs for x in runs)}
        if all(x[3] is not None for x in runs):
            row["wait"] = statistics.median(x[3] / x[0] for x in runs)
            row["transfer"] = statistics.median((x[2] - x[3]) / x[0] for x in runs)
        else:
            row["wait"] = None
            row["transfer"] = row["exchange"]
        breakdown.append(row)
# The server's own share: averaging, optimiser step and queueing the weights, per update (kept epochs).
update_ms = {}
for c in [c for c in configs if c not in ("train", "ddp")]:
    events = [e for r in used for e in swift_epochs(f"{c}-r{r}")[1:]]
    update_ms[c] = 1e3 * sum(e["update_seconds"] for e in events) / max(1, sum(e["updates"] for e in events))

roundtrip = json.load(open(f"{out}/roundtrip.json"))
allreduce = {a["model"]: a for a in json.load(open(f"{out}/allreduce.json"))["allreduce"]}
torch_version = json.load(open(f"{out}/ddp-r1.json"))["torch"]
match = re.search(r"OpenBLAS (\S+) with", open(f"{out}/train-r1.log").readline())
cores = sorted({match.group(1) if match else "unknown", roundtrip["openblas_core"]})

def fmt(x):
    return f"{x:,.0f}"

def ms(seconds):
    return f"{seconds * 1e3:.3f}"

table = ["| configuration | median samples/s | min–max | epochs (runs) | vs one process | vs DDP |",
         "| --- | ---: | ---: | ---: | ---: | ---: |"]
for c in configs:
    s = results[c]
    table.append(f"| {names[c]} | {fmt(s['median'])} | {fmt(s['min'])}–{fmt(s['max'])} | {s['epochs']} ({s['runs']}) "
                 f"| {ratio[c]:.2f}× | {versus_ddp[c]:.2f}× |")

time_table = ["| run | worker | steps | compute ms/step | exchange ms/step | of which waiting for the other worker | "
              "exchange − waiting (transfer, update, queueing) | compute s/epoch | exchange s/epoch |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
for row in breakdown:
    time_table.append(f"| {names[row['config']]} | {row['rank']} | {row['steps']:.0f} | {ms(row['compute'])} | {ms(row['exchange'])} "
                      f"| {ms(row['wait']) if row['wait'] is not None else '—'} | {ms(row['transfer'])} "
                      f"| {row['compute_epoch']:.3f} | {row['exchange_epoch']:.3f} |")
update_line = "; ".join(f"{names[c]}: {update_ms[c]:.3f} ms" for c in update_ms)

rt_table = ["| model | floats | MB each way | server round trip, ms (min–max) | of which the server's update, ms "
            "| raw ZeroMQ round trip, ms (min–max) | server / raw | gloo allreduce, 2 processes, ms (min–max) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
for row in roundtrip["roundtrip"]:
    a = allreduce.get(row["model"])
    gloo = f"{a['median_ms']:.3f} ({a['min_ms']:.3f}–{a['max_ms']:.3f})" if a else "—"
    rt_table.append(f"| {row['model']} | {row['floats']:,} | {row['floats'] * 4 / 1e6:.2f} "
                    f"| {row['server_ms']:.3f} ({row['server_min_ms']:.3f}–{row['server_max_ms']:.3f}) "
                    f"| {row['server_update_ms']:.3f} "
                    f"| {row['raw_ms']:.3f} ({row['raw_min_ms']:.3f}–{row['raw_max_ms']:.3f}) | {row['ratio']:.2f}× | {gloo} |")

def verdict(value, target):
    return f"**{value:.2f}×** ({'met' if value >= target else 'not met'})"

targets = (f"sync ≥ 0.7× one process: {verdict(ratio['sync'], 0.7)}; sync ≥ 3× DDP: {verdict(versus_ddp['sync'], 3)}; "
           f"async: {ratio['async']:.2f}× one process, {versus_ddp['async']:.2f}× DDP")
load_note = rounds_note(rounds, clean, load.values(), what="training run")
load_note += (f"; during the round trips {other_load('roundtrip'):.0%} and during the allreduce "
              f"{other_load('allreduce'):.0%}")
# Within one round the runs follow each other, so a round's ratio is the fairer one on a host whose speed
# drifts between a fast and a slow mode (seen here for every program, with nothing else running).
round_ratios = ", ".join(
    f"{statistics.median(epoch_rates(f'sync-r{r}')) / statistics.median(epoch_rates(f'train-r{r}')):.2f}"
    for r in range(1, rounds + 1))
per_run = "; ".join(f"{c}: " + ", ".join(fmt(statistics.median(epoch_rates(f'{c}-r{r}'))) for r in range(1, rounds + 1))
                    for c in configs)

section = f"""## Cluster: parameter server and workers (issue 4)

The tutorial's MNIST MLP (784-128-64-10, SGD lr 0.01 momentum 0.9, data in memory) with a global
batch of 128, trained alternately in each configuration, {rounds} round{"s" if rounds != 1 else ""} of {epochs} epochs; the first
epoch of every run is discarded as warm-up. `trainer local` runs a parameter server and 2 workers in
one process, each worker on one BLAS thread (2 cores in all); its samples/s is the server's training
time per epoch (from the end of the previous epoch's report to the epoch's last update, without the
evaluation). `trainer train` is one process with the same global batch on 2 BLAS threads, and
`Benchmarks/pytorch_ddp.py` is PyTorch DistributedDataParallel over gloo with the same sharding
(2 processes of batch 64, one thread each).

{chr(10).join(table)}

Targets: {targets}.

Sync / one process within each round, in run order: {round_ratios}. This host's speed drifts between a
fast and a slow mode for every program (with nothing else running), so the ratio within a round is
the fairer comparison; the per-run medians are at the end of this section.

### Where a worker's time goes

What each `trainer local` worker reported at the end of a run (medians over the kept runs; whole
runs, warm-up epoch included). Exchange is the time from sending a gradient to holding the next
weights; waiting is how long its gradient sat at the server for the other worker's (sync only);
the rest is the transfer both ways, the server's update and the queueing in between. The server's
own update (averaging, optimiser step, queueing the weights), per update, over the kept epochs:
{update_line}.

{chr(10).join(time_table)}

### One step's round trip

`ClusterBenchmark` (in one process, over tcp on 127.0.0.1): a real parameter server (sync, one
worker, SGD) and a real worker, batch 1, the time from sending a gradient to holding the next
weights, against a raw ZeroMQ DEALER/ROUTER pair, each on its own thread, sending one frame of the
same bytes there and back; medians over repetitions of the mean per step. The server's update is
its averaging, optimiser step and queueing of the weights within that round trip. gloo's allreduce
of the same number of floats between 2 processes (what DDP does instead) for reference.

{chr(10).join(rt_table)}

- Command: `{env['BENCH_COMMAND']}`, which runs `{env['BENCH_TRAIN_CMD']}`,
  `{env['BENCH_LOCAL_CMD']}`, `{env['BENCH_DDP_CMD']}`,
  then `{env['BENCH_ROUNDTRIP_CMD']}` (defaults: MLP 400 steps, CNN 60 steps, 5 repetitions) and
  `{env['BENCH_ALLREDUCE_CMD']}`
- Machine: {env['BENCH_CPU']}, `nproc` {ncpu}; OpenBLAS core {', '.join(cores)}
  (`OPENBLAS_CORETYPE={env['BENCH_CORETYPE']}`); Swift {env['BENCH_SWIFT']}; PyTorch {torch_version}
- Date: {env['BENCH_DATE']}; commit {env['BENCH_COMMIT']}
- Load: {load_note}
- Per-run medians (samples/s, in run order): {per_run}
"""

print()
print(section)

write_section(doc, section)
EOF
