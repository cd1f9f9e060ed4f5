#!/usr/bin/env bash
# Server shards over 1 Gbit/s links (issue 11, benchmark a): 4 workers and 1 or 2 server hosts in network
# namespaces, the MNIST MLP and the CIFAR-10 CNN; samples/s with 2 shards over 1 shard (target ≥ 1.8×).
# Needs root (ip netns, tc).
#
# Six hosts (Benchmarks/netns_hosts.sh with NETNS_HOSTS=6: network namespaces joined by veth pairs to a bridge in
# another namespace, MTU 1500, tcp without CURVE): host0 and host1 are the server hosts (10.213.0.1 and .2),
# host2..host5 the worker hosts. Every link is shaped as netns_hosts.sh's `shape 1gbit` does (tbf rate 1gbit
# burst 125000 latency 50ms on both ends: each host's eth0 and its bridge end). Per model, alternately
# (reversed in even rounds), ROUNDS rounds of:
#   1 shard:  host0: trainer server --bind tcp://10.213.0.1:5555 --workers 4 …            (host1 idle)
#   2 shards: host0: trainer server --bind tcp://10.213.0.1:5555 --shards tcp://10.213.0.1:5555,tcp://10.213.0.2:5555 --shard 1 …
#             host1: trainer server --bind tcp://10.213.0.2:5555 --shards (the same) --shard 2 …
#   host2..5: trainer worker --connect tcp://10.213.0.1:5555 --threads 1
# with the server flags --mode sync --model mlp --dataset mnist (EPOCHS epochs) or --model cnn --dataset cifar10
# (CNN_EPOCHS epochs), --threads 1, the trainer's default hyper-parameters (SGD lr 0.01 momentum 0.9, batch 64 per
# worker, global 256). Then PLAIN_ROUNDS rounds of the same runs over plain links (no qdisc), to show what the
# CPU alone allows, and before the first run of each link setting a raw TCP transfer host1 → host0.
#
# Per run: samples/s is shard 1's per-epoch training rate (the metrics' "epoch" events; the first epoch of every
# run is warm-up and discarded; figures are medians over the rounds); the test accuracy after the last epoch;
# bytes per training sample (a) from shard 1's metrics, sent_bytes + received_bytes summed over the epochs (with
# 2 shards this is shard 1's own traffic only), and (b) from the kernel's eth0 counters of the server hosts
# (rx + tx of host0 and host1 over the whole run, start-up and evaluation included) and of all hosts (the sum of
# every host's tx); the CPU share the run's own processes used and the share other processes took (as netns.sh).
# The summary is written as the section "## Server shards over 1 Gbit/s (issue 11, benchmark a)" of
# docs/benchmarks.md.
#
#   sudo Benchmarks/shards.sh
#   ROUNDS=1 EPOCHS=2 CNN_EPOCHS=2 PLAIN_ROUNDS=0 Benchmarks/shards.sh
#
# Environment: ROUNDS (default 2), EPOCHS (MLP, default 3), CNN_EPOCHS (default 2), MODELS (default "mlp cnn"),
# PLAIN_ROUNDS (default 1; 0: no plain-link runs), EPOCH_LIMIT (seconds an epoch may take before a run is stopped
# as failed, default 300), DATA_DIR (default $TRAINER_DATA_DIR, else ../shared/data), SCRATCH (SwiftPM scratch
# path, default .build-bench), BUILD (head: build a clean export of the HEAD commit in HEAD_SRC, default
# /tmp/actortrainer-head-COMMIT (do not move it: the build cache holds its path), with its own SCRATCH, its dependencies' checkouts copied from ./SCRATCH, so the
# figures belong to a commit whatever the working tree holds; tree: build the working tree, as the other
# scripts do; default head), PYTHON (default python3), COMMIT (what to record as the measured source), NO_DOC
# (set: print the summary, do not write docs/benchmarks.md), KEEP (a folder to copy the runs' files to).
#
# Every namespace (trainer-bench-PID-…) and every process in them is removed on exit, also on failure or
# interruption; leftovers of a run whose process is gone are removed at start.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
EPOCHS=${EPOCHS:-3}
CNN_EPOCHS=${CNN_EPOCHS:-2}
MODELS=${MODELS:-mlp cnn}
PLAIN_ROUNDS=${PLAIN_ROUNDS:-1}
EPOCH_LIMIT=${EPOCH_LIMIT:-300}
SCRATCH=${SCRATCH:-.build-bench}
BUILD=${BUILD:-head}
PYTHON=${PYTHON:-python3}
DATA_DIR=$(realpath "${DATA_DIR:-${TRAINER_DATA_DIR:-../shared/data}}")
DOC=docs/benchmarks.md
WORKERS=4
PORT=5555

if [[ $(id -u) != 0 ]]; then echo "error: Benchmarks/shards.sh needs root (ip netns, tc)" >&2; exit 1; fi
for var in EPOCHS CNN_EPOCHS; do
    if ! [[ ${!var} =~ ^[0-9]+$ ]] || (( ${!var} < 2 )); then echo "error: $var is '${!var}': give at least 2 (the first epoch is discarded)" >&2; exit 1; fi
done
for var in ROUNDS PLAIN_ROUNDS EPOCH_LIMIT; do
    if ! [[ ${!var} =~ ^[0-9]+$ ]]; then echo "error: $var is '${!var}': give a whole number" >&2; exit 1; fi
done
(( ROUNDS >= 1 )) || { echo "error: ROUNDS must be at least 1" >&2; exit 1; }
for model in $MODELS; do
    case $model in
        mlp) [[ -d "$DATA_DIR/mnist" ]] || { echo "error: no MNIST in $DATA_DIR/mnist (set DATA_DIR or TRAINER_DATA_DIR)" >&2; exit 1; } ;;
        cnn) [[ -d "$DATA_DIR/cifar-10-batches-bin" ]] || { echo "error: no CIFAR-10 in $DATA_DIR/cifar-10-batches-bin" >&2; exit 1; } ;;
        *) echo "error: unknown model $model in MODELS (mlp, cnn)" >&2; exit 1 ;;
    esac
done
case $BUILD in head|tree) ;; *) echo "error: BUILD is '$BUILD' (head or tree)" >&2; exit 1 ;; esac

# The namespaces, shaping, probe and byte counters (sets NS, OUT and the EXIT trap that removes them), for six hosts.
NETNS_HOSTS=6
source Benchmarks/netns_hosts.sh
# An interruption exits, so the EXIT trap removes the namespaces and what runs in them.
trap 'exit 130' INT TERM HUP
# cpu_busy, cpu_steal, own_cpu: CPU time in clock ticks, to tell other processes' load from a run's own.
source Benchmarks/common.sh
SERVER2_ADDRESS=10.213.0.2
SHARDS="tcp://$SERVER_ADDRESS:$PORT,tcp://$SERVER2_ADDRESS:$PORT"

if [[ $BUILD == head ]]; then
    HEAD_FULL=$(git rev-parse HEAD)
    HEAD_COMMIT=$(git rev-parse --short "$HEAD_FULL")
    HEAD_SRC=${HEAD_SRC:-/tmp/actortrainer-head-$HEAD_COMMIT}
    if [[ -f "$HEAD_SRC/.exported-commit" ]]; then
        if [[ $(cat "$HEAD_SRC/.exported-commit") != "$HEAD_FULL" ]]; then
            echo "error: $HEAD_SRC holds commit $(cat "$HEAD_SRC/.exported-commit"), not HEAD: remove it or set HEAD_SRC" >&2; exit 1
        fi
    elif [[ -e "$HEAD_SRC" ]]; then
        echo "error: $HEAD_SRC exists but is not an export of this script (no .exported-commit)" >&2; exit 1
    else
        echo "== exporting commit $HEAD_COMMIT to $HEAD_SRC"
        mkdir -p "$HEAD_SRC/$SCRATCH"
        git archive "$HEAD_FULL" | tar -x -C "$HEAD_SRC"
        echo "$HEAD_FULL" > "$HEAD_SRC/.exported-commit"
        [[ ! -f Package.resolved ]] || cp Package.resolved "$HEAD_SRC/"
        for item in checkouts repositories workspace-state.json; do
            [[ ! -e "$SCRATCH/$item" ]] || cp -a "$SCRATCH/$item" "$HEAD_SRC/$SCRATCH/"
        done
    fi
    BUILD_DIR=$HEAD_SRC
else
    BUILD_DIR=$PWD
fi
echo "== building trainer (release, $BUILD_DIR, scratch path $SCRATCH)"
if ! (cd "$BUILD_DIR" && swift build -c release --product trainer --scratch-path "$SCRATCH") > "$OUT/build.log" 2>&1; then
    cat "$OUT/build.log" >&2
    echo "error: the release build of trainer failed" >&2
    exit 1
fi
tail -n 1 "$OUT/build.log"
TRAINER=$(realpath "$BUILD_DIR/$SCRATCH/release/trainer")
SERVER_HELP=$("$TRAINER" server --help)
grep -q -- "--shards" <<< "$SERVER_HELP" || { echo "error: this trainer's server has no --shards" >&2; exit 1; }

make_hosts

# Before/after snapshots: "<other processes' ticks> <steal ticks> <wall seconds>" to NAME.load, this shell's
# children's ticks (the run's own processes) to NAME.own, and the eth0 counters' differences (rx tx of host0 …
# host5) to NAME.bytes.
all_counters() { local host; for host in $(seq 0 $(( NETNS_HOSTS - 1 ))); do echo -n "$(counters "$host") "; done; }
begin_measure() {
    busy0=$(cpu_busy) steal0=$(cpu_steal) own0=$(own_cpu) start=$(date +%s.%N)
    bytes0=$(all_counters)
}
end_measure() {  # name
    local -a before after
    local i differences="" own
    own=$(( $(own_cpu) - own0 ))
    echo "$(( $(cpu_busy) - busy0 - own )) $(( $(cpu_steal) - steal0 ))" \
         "$(echo "$(date +%s.%N) - $start" | bc)" > "$OUT/$1.load"
    echo "$own" > "$OUT/$1.own"
    read -r -a before <<< "$bytes0"
    read -r -a after <<< "$(all_counters)"
    for (( i = 0; i < ${#before[@]}; i++ )); do differences+="$(( after[i] - before[i] )) "; done
    echo "$differences" > "$OUT/$1.bytes"
}

# Waits until a server's log says it listens (at most 60 s), or stops.
await_listening() {  # name log err pid
    local tries=0
    until grep -q "listening on" "$2" 2>/dev/null; do
        sleep 0.1; tries=$(( tries + 1 ))
        if (( tries > 600 )) || ! kill -0 "$4" 2>/dev/null; then
            cat "$3" >&2; echo "error: a server of $1 did not start listening" >&2; exit 1
        fi
    done
}

# One run: 1 or 2 shards and 4 workers; writes NAME.jsonl (shard 1's metrics), the logs, .load, .own and .bytes.
run_cluster() {  # name model shards epochs
    local name=$1 model=$2 shards=$3 epochs=$4 dataset=mnist limit failed=0 pid host
    local -a pids=() flags
    [[ $model == cnn ]] && dataset=cifar10
    limit=$(( 120 + epochs * EPOCH_LIMIT ))
    flags=(--workers "$WORKERS" --mode sync --model "$model" --dataset "$dataset" --data-dir "$DATA_DIR" --epochs "$epochs"
           --threads 1 --join-timeout 60 --no-progress)
    begin_measure
    if (( shards == 2 )); then
        ip netns exec "${NS}host1" timeout -k 5 "$limit" "$TRAINER" server --bind "tcp://$SERVER2_ADDRESS:$PORT" \
            --shards "$SHARDS" --shard 2 "${flags[@]}" > "$OUT/$name.shard2.log" 2> "$OUT/$name.shard2.err" &
        pids+=($!)
        await_listening "$name" "$OUT/$name.shard2.log" "$OUT/$name.shard2.err" "${pids[0]}"
        ip netns exec "${NS}host0" timeout -k 5 "$limit" "$TRAINER" server --bind "tcp://$SERVER_ADDRESS:$PORT" \
            --shards "$SHARDS" --shard 1 "${flags[@]}" --metrics "$OUT/$name.jsonl" \
            > "$OUT/$name.shard1.log" 2> "$OUT/$name.shard1.err" &
    else
        ip netns exec "${NS}host0" timeout -k 5 "$limit" "$TRAINER" server --bind "tcp://$SERVER_ADDRESS:$PORT" \
            "${flags[@]}" --metrics "$OUT/$name.jsonl" > "$OUT/$name.shard1.log" 2> "$OUT/$name.shard1.err" &
    fi
    pids+=($!)
    await_listening "$name" "$OUT/$name.shard1.log" "$OUT/$name.shard1.err" "$!"
    for host in $(seq 2 $(( WORKERS + 1 ))); do
        ip netns exec "${NS}host$host" timeout -k 5 "$limit" "$TRAINER" worker --connect "tcp://$SERVER_ADDRESS:$PORT" \
            --data-dir "$DATA_DIR" --threads 1 --timeout 120 > "$OUT/$name.worker$host.log" 2>&1 &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    (( failed == 0 )) || fail_run "$name" "$limit"
    end_measure "$name"
}

# The run list, for the report: "name link model shards round epochs" per line, tab-separated.
: > "$OUT/runs.tsv"
declare -A PROBE_MB=([plain]=2000 [1gbit]=200)
echo "$(cut -d ' ' -f 1-3 /proc/loadavg)" > "$OUT/loadavg.before"
BENCH_START=$(date -u '+%Y-%m-%d %H:%M')
plan_rounds=()
for round in $(seq 1 "$ROUNDS"); do plan_rounds+=("1gbit $round"); done
for round in $(seq 1 "$PLAIN_ROUNDS"); do plan_rounds+=("plain $round"); done
shaped=""
for entry in "${plan_rounds[@]}"; do
    read -r link round <<< "$entry"
    if [[ $shaped != "$link" ]]; then
        shape "$link"; shaped=$link
        echo "== link $link"; probe "$link" "${PROBE_MB[$link]}"
    fi
    plan=()
    for model in $MODELS; do plan+=("$model 1" "$model 2"); done
    if (( round % 2 == 0 )); then
        reversed=(); for (( index = ${#plan[@]} - 1; index >= 0; index-- )); do reversed+=("${plan[index]}"); done
        plan=("${reversed[@]}")
    fi
    for item in "${plan[@]}"; do
        read -r model shards <<< "$item"
        epochs=$EPOCHS; [[ $model == cnn ]] && epochs=$CNN_EPOCHS
        name="$link-$model-s$shards-r$round"
        echo "== $link round $round: $model, $shards shard(s), $epochs epochs"
        run_cluster "$name" "$model" "$shards" "$epochs"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$link" "$model" "$shards" "$round" "$epochs" >> "$OUT/runs.tsv"
        "$PYTHON" - "$OUT/$name.jsonl" "$OUT/$name.bytes" "$OUT/$name.load" <<'EOF'
import json, sys
epochs = [e for e in map(json.loads, open(sys.argv[1])) if e.get("event") == "epoch"]
b = [int(x) for x in open(sys.argv[2]).read().split()]
wall = float(open(sys.argv[3]).read().split()[2])
print("   samples/s per epoch: " + ", ".join(f"{e['samples_per_second']:,.0f}" for e in epochs)
      + f"; accuracy {epochs[-1]['test_accuracy']:.2%}; server hosts' eth0 {(sum(b[0:4])) / 1e6:,.1f} MB; {wall:.1f} s")
EOF
    done
done
echo "$(cut -d ' ' -f 1-3 /proc/loadavg)" > "$OUT/loadavg.after"

export BENCH_OUT="$OUT" BENCH_DOC="$DOC" BENCH_LATENCY="$LATENCY" BENCH_NO_DOC="${NO_DOC:-}" BENCH_WORKERS="$WORKERS"
export BENCH_CLK_TCK=$(getconf CLK_TCK) BENCH_NPROC=$(nproc)
export BENCH_CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
export BENCH_KERNEL="$(uname -r)"
export BENCH_DATE="$BENCH_START–$(date -u '+%H:%M') UTC"
export BENCH_CORETYPE=${OPENBLAS_CORETYPE-unset}
export BENCH_SWIFT=$(swift --version 2>&1 | sed -n 's/.*Swift version \([^ ]*\).*/\1/p' | head -n 1)
if [[ $BUILD == head ]]; then
    DEFAULT_COMMIT=$HEAD_COMMIT
elif [[ "$(git rev-parse --show-toplevel 2>/dev/null)" == "$PWD" ]]; then
    DEFAULT_COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources Package.swift || echo ' with uncommitted changes to Sources/ or Package.swift')"
fi
export BENCH_COMMIT=${COMMIT:-${DEFAULT_COMMIT:-unknown}}
export BENCH_COMMAND="ROUNDS=$ROUNDS EPOCHS=$EPOCHS CNN_EPOCHS=$CNN_EPOCHS MODELS=\"$MODELS\" PLAIN_ROUNDS=$PLAIN_ROUNDS Benchmarks/shards.sh"

if [[ -n "${KEEP:-}" ]]; then
    mkdir -p "$KEEP" && cp -r "$OUT"/. "$KEEP"/ && export -p | grep ' BENCH_' | sed 's/^declare -x //' > "$KEEP/report.env"
    echo "== kept the runs' files in $KEEP"
fi

"$PYTHON" - <<'EOF'
import json, os, re, statistics, sys
sys.path.insert(0, "Benchmarks")
from benchmarks_doc import DISTURBED, other_load, write_section

env = os.environ
out, doc = env["BENCH_OUT"], env["BENCH_DOC"]
tick, ncpu, workers = int(env["BENCH_CLK_TCK"]), int(env["BENCH_NPROC"]), int(env["BENCH_WORKERS"])
runs = [line.rstrip("\n").split("\t") for line in open(f"{out}/runs.tsv")]
runs = [{"name": n, "link": l, "model": m, "shards": int(s), "round": int(r), "epochs": int(e)} for n, l, m, s, r, e in runs]
MODEL_NAMES = {"mlp": "MNIST MLP", "cnn": "CIFAR-10 CNN"}
LINK_NAMES = {"plain": "plain (no qdisc)", "1gbit": "tbf 1 Gbit/s"}
PARAMETERS = {"mlp": 109_386, "cnn": 2_122_186}
WIRE = 1514 / 1448                  # Ethernet + IPv4 + TCP (timestamps) bytes per TCP payload byte, MTU 1500
WORKER_LINE = re.compile(r"Worker (\d+): (\d+) steps, (\d+) samples; compute ([\d.]+) s, exchange with the server ([\d.]+) s")

def events(run):
    return [e for e in map(json.loads, open(f"{out}/{run['name']}.jsonl")) if e.get("event") == "epoch"]

for run in runs:
    ev = events(run)
    run["rates"] = [e["samples_per_second"] for e in ev[1:]]
    run["accuracy"] = ev[-1]["test_accuracy"]
    samples = sum(w["samples"] for e in ev for w in e["workers"])
    run["samples"] = samples
    run["metrics_bytes"] = sum(e["sent_bytes"] + e["received_bytes"] for e in ev) / samples
    b = [int(x) for x in open(f"{out}/{run['name']}.bytes").read().split()]
    run["server_bytes"] = sum(b[0:4]) / samples              # rx + tx of host0 and host1
    run["all_tx"] = sum(b[1::2]) / samples                   # every host's tx
    run["load"] = other_load(f"{out}/{run['name']}.load", tick, ncpu)
    wall = float(open(f"{out}/{run['name']}.load").read().split()[2])
    run["own"] = int(open(f"{out}/{run['name']}.own").read()) / tick / (wall * ncpu)
    compute, exchange = [], []
    for host in range(2, 2 + workers):
        for line in open(f"{out}/{run['name']}.worker{host}.log"):
            if match := WORKER_LINE.search(line):
                compute.append(1e3 * float(match[4]) / int(match[2]))
                exchange.append(1e3 * float(match[5]) / int(match[2]))
    run["compute"] = statistics.median(compute) if compute else float("nan")
    run["exchange"] = statistics.median(exchange) if exchange else float("nan")
cores = set()
for run in runs:
    for host in range(2, 2 + workers):
        if match := re.search(r"OpenBLAS (\S+) with", open(f"{out}/{run['name']}.worker{host}.log").read()):
            cores.add(match[1])

print("\nper run (median of the epochs after the first; own = CPU share of the machine the run's processes used; "
      "other = what other processes took meanwhile):")
for run in runs:
    print(f"  {run['name']:<20} {statistics.median(run['rates']):>9,.0f} samples/s  accuracy {run['accuracy']:.2%}  "
          f"bytes/sample metrics {run['metrics_bytes']:,.0f} server eth0 {run['server_bytes']:,.0f} all tx {run['all_tx']:,.0f}  "
          f"own {run['own']:4.0%} other {run['load']:4.0%}  compute {run['compute']:.2f} exchange {run['exchange']:.2f} ms/step")

links = [l for l in ("1gbit", "plain") if any(r["link"] == l for r in runs)]
models = [m for m in ("mlp", "cnn") if any(r["model"] == m for r in runs)]
def group(link, model, shards):
    return [r for r in runs if (r["link"], r["model"], r["shards"]) == (link, model, shards)]
def median_rate(rs):
    return statistics.median([x for r in rs for x in r["rates"]])
def fmt(x):
    return f"{x:,.0f}"
def accuracies(rs):
    return "/".join(sorted({f"{r['accuracy']:.2%}" for r in rs}))

table = ["| model | links | shards | samples/s, median (min–max) | epochs | 2 shards / 1 | test accuracy, last epoch "
         "| bytes/sample, shard 1's metrics | bytes/sample, server hosts' eth0 (rx+tx) | bytes/sample, all hosts' tx "
         "| CPU used by the run | worker compute / exchange ms per step |",
         "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
ratios = {}
for model in models:
    for link in links:
        one = median_rate(group(link, model, 1))
        for shards in (1, 2):
            rs = group(link, model, shards)
            rates = [x for r in rs for x in r["rates"]]
            ratio = median_rate(rs) / one
            if shards == 2:
                ratios[model, link] = ratio
            table.append(
                f"| {MODEL_NAMES[model]} | {LINK_NAMES[link]} | {shards} | {fmt(statistics.median(rates))} ({fmt(min(rates))}–{fmt(max(rates))}) "
                f"| {len(rates)} | {f'**{ratio:.2f}×**' if shards == 2 else '1.00×'} | {accuracies(rs)} "
                f"| {fmt(statistics.median(r['metrics_bytes'] for r in rs))} | {fmt(statistics.median(r['server_bytes'] for r in rs))} "
                f"| {fmt(statistics.median(r['all_tx'] for r in rs))} | {statistics.median(r['own'] for r in rs):.0%} "
                f"| {statistics.median(r['compute'] for r in rs):.1f} / {statistics.median(r['exchange'] for r in rs):.1f} |")

round_ratios = []
for model in models:
    for link in links:
        values = []
        for rnd in sorted({r["round"] for r in runs if r["link"] == link}):
            a = [r for r in group(link, model, 1) if r["round"] == rnd]
            b = [r for r in group(link, model, 2) if r["round"] == rnd]
            if a and b:
                values.append(f"{statistics.median(b[0]['rates']) / statistics.median(a[0]['rates']):.2f}")
        round_ratios.append(f"{MODEL_NAMES[model]}, {LINK_NAMES[link]}: {', '.join(values)}")

def probe(l):
    mbits = float(open(f"{out}/{l}.probe").read().split()[-1])
    return f"{LINK_NAMES[l]}: {mbits:,.0f} Mbit/s" + (f" ({mbits * 1e6 / 1e9:.1%} of the rate)" if l == "1gbit" else "")
probes = "; ".join(probe(l) for l in links)

def frame_ms(model):
    return PARAMETERS[model] * 4 * WIRE * 8 / 1e9 * 1e3
ceilings = []
for model in models:
    f = frame_ms(model)
    step = workers * 64
    ceilings.append(f"{MODEL_NAMES[model]}: {PARAMETERS[model]:,} parameters, a frame of {PARAMETERS[model] * 4:,} bytes takes "
                    f"{f:.2f} ms of a 1 Gbit/s link; a sync step ({step} samples) moves {workers} frames into and {workers} out of "
                    f"1 server's link ({workers} half-frames per shard with 2 shards): at most {fmt(step / (workers * f / 1e3))} samples/s "
                    f"with 1 shard and {fmt(step / (workers / 2 * f / 1e3))} with 2 if in and out overlapped fully, "
                    f"{fmt(step / (2 * workers * f / 1e3))} and {fmt(step / (workers * f / 1e3))} if they did not overlap at all")

loads = [r["load"] for r in runs]
per_run = ", ".join(f"{r['name']} {r['load']:.0%}" for r in runs)
before, after = (open(f"{out}/loadavg.{when}").read().split()[0] for when in ("before", "after"))
load_note = (f"other processes and steal took at most {max(loads):.0%} of the machine in any run "
             f"(per run: {per_run}); load average {before} before, {after} after")
if max(loads) > DISTURBED:
    load_note += f" (**some runs had more than {DISTURBED:.0%} of the machine taken by others: those figures are pessimistic**)"
tc_lines = "\n".join(f"    {line.rstrip()}" for line in open(f"{out}/1gbit.tc")) if "1gbit" in links else ""
verdicts = "; ".join(f"{MODEL_NAMES[m]} {ratios[m, '1gbit']:.2f}× ({'met' if ratios[m, '1gbit'] >= 1.8 else 'missed'})"
                     for m in models if (m, "1gbit") in ratios)

section = f"""## Server shards over 1 Gbit/s (issue 11, benchmark a)

4 `trainer worker`s, each on a host of its own, and 1 or 2 `trainer server` shards on two server hosts
(network namespaces joined by veth pairs to a bridge in another namespace, MTU 1500, tcp without
CURVE); with 1 shard a single plain server runs on server host 1 and server host 2 is idle, with 2 each
server host runs one shard (`--shards tcp://10.213.0.1:5555,tcp://10.213.0.2:5555 --shard N`), the
workers connecting to shard 1. Sync mode, the trainer's defaults (SGD lr 0.01 momentum 0.9, batch 64 per
worker, global {workers * 64}), one BLAS thread per process; every link shaped with tbf 1 Gbit/s on both ends
(each host's `eth0` and its bridge end), then a round over plain links (no qdisc) for comparison. 1 and 2
shards alternate within each round (reversed in even rounds); samples/s is shard 1's per-epoch training
rate, the first epoch of every run discarded as warm-up. Bytes per training sample: shard 1's metrics
(`sent_bytes + received_bytes` over the epochs: with 2 shards only shard 1's own half), the kernel's
`eth0` counters of both server hosts (rx + tx, whole run including start-up and evaluation), and the
sum of every host's tx (all bytes put on the wire).

{chr(10).join(table)}

2 shards / 1 shard within each round, in run order: {"; ".join(round_ratios)}.

Target ≥ 1.8× at 1 Gbit/s: {verdicts}.

Link-bound ceilings (payload + {WIRE - 1:.1%} TCP/IP/Ethernet): {"; ".join(ceilings)}. Raw TCP host1 → host0
(Python sockets): {probes}.

- Command: `{env['BENCH_COMMAND']}`, as root
- Machine: {env['BENCH_CPU']}, `nproc` {ncpu}; kernel {env['BENCH_KERNEL']}; OpenBLAS core {', '.join(sorted(cores)) or 'unknown'}
  (`OPENBLAS_CORETYPE={env['BENCH_CORETYPE']}`); Swift {env['BENCH_SWIFT']}
- Date: {env['BENCH_DATE']}; commit {env['BENCH_COMMIT']}
- Load: {load_note}. "CPU used by the run" is the CPU time of the run's own processes (servers, workers)
  over wall time × {ncpu} cores.
- tbf, per link end:

{tc_lines}
"""
print()
print(section)
if not env.get("BENCH_NO_DOC"):
    write_section(doc, section)
EOF
