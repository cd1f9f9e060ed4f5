#!/usr/bin/env bash
# Parameter server and 2 workers on three separate hosts, MNIST MLP samples/second over plain links and
# over links shaped to 1 Gbit/s and 100 Mbit/s (issue 6). Needs root.
#
# Builds `trainer` in release, then makes (Benchmarks/netns_hosts.sh) three network namespaces (host0 for the server, host1 and host2
# for the workers) joined by veth pairs to a bridge in a fourth namespace, so the root namespace's network
# is untouched; each host has its address in 10.213.0.0/24 on eth0, MTU 1500. For each link setting:
#   - plain:   no qdisc (veth's default noqueue)
#   - 1gbit:   tc -n NS qdisc replace dev DEV root tbf rate 1gbit burst 125000 latency 50ms
#   - 100mbit: tc -n NS qdisc replace dev DEV root tbf rate 100mbit burst 12500 latency 50ms
# on both ends of every link (each host's eth0 and its bridge end portN), so both directions are shaped.
# Each setting first times a raw TCP transfer between two hosts (Python sockets) to show the rate the link
# gives, then trains, alternately, for ROUNDS rounds of EPOCHS epochs each:
#   host0: trainer server --bind tcp://10.213.0.1:5555 --workers 2 --mode sync|async --dataset mnist --threads 1
#   host1, host2: trainer worker --connect tcp://10.213.0.1:5555 --threads 1
# (batch 64 per worker, global 128; plain ZMTP, no CURVE). The first epoch of every run is warm-up and is
# discarded; figures are medians of the server's per-epoch samples/s of the other epochs. The summary
# states the bytes each step moves and the link-bound ceiling at each rate, and is written as the section
# "## Separate hosts: network namespaces and shaped links (issue 6)" of docs/benchmarks.md.
#
#   sudo Benchmarks/netns.sh                  # ROUNDS=3 EPOCHS=3
#   ROUNDS=2 EPOCHS=2 Benchmarks/netns.sh
#
# Environment: ROUNDS, EPOCHS, LINKS (default "plain 1gbit 100mbit"), DATA_DIR (default $TRAINER_DATA_DIR,
# else ../shared/data), SCRATCH (SwiftPM scratch path, default .build-bench), PYTHON (default python3),
# COMMIT (what to record as the measured source when the tree is not a git checkout).
#
# The server and the two workers share the machine's cores, so other processes distort every figure:
# as cluster.sh does, the script measures the CPU time the machine spent outside each run (and steal),
# and leaves out a round in which any run saw more than 5% of the machine taken, as long as a clean
# round remains. The namespaces (named trainer-bench-PID-…) and every process in them are removed on
# exit, also on failure; leftovers of a run whose process is gone are removed at start.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
EPOCHS=${EPOCHS:-3}
LINKS=${LINKS:-plain 1gbit 100mbit}
SCRATCH=${SCRATCH:-.build-bench}
PYTHON=${PYTHON:-python3}
DATA_DIR=$(realpath "${DATA_DIR:-${TRAINER_DATA_DIR:-../shared/data}}")
DOC=docs/benchmarks.md
# Bound on one training run, in seconds (netns_hosts.sh bounds a raw transfer).
RUN_LIMIT=$(( 120 + EPOCHS * 150 ))

if (( EPOCHS < 2 )); then echo "EPOCHS must be at least 2 (the first epoch is discarded)" >&2; exit 1; fi
if [[ $(id -u) != 0 ]]; then echo "error: Benchmarks/netns.sh needs root (ip netns, tc)" >&2; exit 1; fi
if [[ ! -d "$DATA_DIR/mnist" ]]; then echo "error: no MNIST in $DATA_DIR/mnist (set DATA_DIR or TRAINER_DATA_DIR)" >&2; exit 1; fi
for link in $LINKS; do
    case $link in plain|1gbit|100mbit) ;; *) echo "error: unknown link setting $link in LINKS (plain, 1gbit, 100mbit)" >&2; exit 1 ;; esac
done

# The namespaces, shaping and probe (sets NS, OUT and the EXIT trap that removes them).
source Benchmarks/netns_hosts.sh

echo "== building trainer (release, scratch path $SCRATCH)"
if ! swift build -c release --product trainer --scratch-path "$SCRATCH" > "$OUT/build.log" 2>&1; then
    cat "$OUT/build.log" >&2
    echo "error: the release build of trainer failed" >&2
    exit 1
fi
tail -n 1 "$OUT/build.log"
TRAINER=$(realpath "$SCRATCH/release/trainer")

make_hosts

# cpu_busy, cpu_steal, own_cpu: CPU time in clock ticks, to tell other processes' load from a run's own.
source Benchmarks/common.sh

# One server and two workers, each bounded by RUN_LIMIT; writes NAME.jsonl (server metrics), the logs, and
# "<other processes' ticks> <steal ticks> <wall seconds>" to NAME.load; stops on a failure with the logs.
run_cluster() {  # name mode
    local name=$1 mode=$2 busy0 steal0 own0 start server tries=0 failed=0 host
    local -a workers=()
    busy0=$(cpu_busy) steal0=$(cpu_steal) own0=$(own_cpu) start=$(date +%s.%N)
    ip netns exec "${NS}host0" timeout -k 5 "$RUN_LIMIT" "$TRAINER" server --bind "tcp://$SERVER_ADDRESS:5555" --workers 2 \
        --mode "$mode" --dataset mnist --data-dir "$DATA_DIR" --epochs "$EPOCHS" --threads 1 --join-timeout 60 \
        --metrics "$OUT/$name.jsonl" > "$OUT/$name.server.log" 2> "$OUT/$name.server.err" &
    server=$!
    until grep -q "listening on" "$OUT/$name.server.log" 2>/dev/null; do
        sleep 0.1; tries=$(( tries + 1 ))
        if (( tries > 600 )) || ! kill -0 "$server" 2>/dev/null; then
            cat "$OUT/$name.server.err" >&2; echo "error: the server of $name did not start listening" >&2; exit 1
        fi
    done
    for host in 1 2; do
        ip netns exec "${NS}host$host" timeout -k 5 "$RUN_LIMIT" "$TRAINER" worker --connect "tcp://$SERVER_ADDRESS:5555" \
            --data-dir "$DATA_DIR" --threads 1 --timeout 120 > "$OUT/$name.worker$host.log" 2>&1 &
        workers+=($!)
    done
    for pid in "${workers[@]}" "$server"; do wait "$pid" || failed=1; done
    if (( failed )); then
        for file in "$OUT/$name".*; do echo "--- $file" >&2; tail -n 15 "$file" >&2; done
        echo "error: the run $name failed (a process exited non-zero or hit the ${RUN_LIMIT} s limit)" >&2
        exit 1
    fi
    echo "$(( $(cpu_busy) - busy0 - ($(own_cpu) - own0) )) $(( $(cpu_steal) - steal0 ))" \
         "$(echo "$(date +%s.%N) - $start" | bc)" > "$OUT/$name.load"
}

declare -A PROBE_MB=([plain]=2000 [1gbit]=200 [100mbit]=25)
for round in $(seq 1 "$ROUNDS"); do
    for link in $LINKS; do
        shape "$link"
        if (( round == 1 )); then echo "== link $link"; probe "$link" "${PROBE_MB[$link]}"; fi
        for mode in sync async; do
            echo "== round $round/$ROUNDS: $link, $mode"
            run_cluster "$link-$mode-r$round" "$mode"
        done
    done
done

export BENCH_OUT="$OUT" BENCH_DOC="$DOC" BENCH_ROUNDS="$ROUNDS" BENCH_EPOCHS="$EPOCHS" BENCH_LINKS="$LINKS" BENCH_LATENCY="$LATENCY"
export BENCH_CLK_TCK=$(getconf CLK_TCK) BENCH_NPROC=$(nproc)
export BENCH_CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
export BENCH_KERNEL="$(uname -r), HZ $( (zcat /proc/config.gz 2>/dev/null || true) | sed -n 's/^CONFIG_HZ=//p')"
export BENCH_PSCHED=$(cat /proc/net/psched)
export BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
export BENCH_CORETYPE=${OPENBLAS_CORETYPE-unset}
export BENCH_SWIFT=$(swift --version 2>&1 | sed -n 's/.*Swift version \([^ ]*\).*/\1/p' | head -n 1)
if [[ "$(git rev-parse --show-toplevel 2>/dev/null)" == "$PWD" ]]; then
    DEFAULT_COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources Package.swift || echo ' with uncommitted changes to Sources/ or Package.swift')"
fi
export BENCH_COMMIT=${COMMIT:-${DEFAULT_COMMIT:-unknown}}
export BENCH_COMMAND="ROUNDS=$ROUNDS EPOCHS=$EPOCHS LINKS=\"$LINKS\" Benchmarks/netns.sh"

"$PYTHON" - <<'EOF'
import json, os, re, statistics, sys
sys.path.insert(0, "Benchmarks")
from benchmarks_doc import DISTURBED, other_load as load_share, rounds_note, write_section

env = os.environ
out, doc = env["BENCH_OUT"], env["BENCH_DOC"]
tick, ncpu, rounds, epochs = int(env["BENCH_CLK_TCK"]), int(env["BENCH_NPROC"]), int(env["BENCH_ROUNDS"]), int(env["BENCH_EPOCHS"])
links, modes = env["BENCH_LINKS"].split(), ["sync", "async"]
configs = [(link, mode) for link in links for mode in modes]
RATES = {"plain": None, "1gbit": 1e9, "100mbit": 1e8}
LINK_NAMES = {"plain": "plain (no qdisc)", "1gbit": "tbf 1 Gbit/s", "100mbit": "tbf 100 Mbit/s"}
PARAMETERS = 109_386                # the MNIST MLP, 784-128-64-10
FRAME = PARAMETERS * 4              # bytes of one gradient or one weights frame
WIRE = 1514 / 1448                  # Ethernet + IPv4 + TCP (with timestamps) bytes per TCP payload byte, MTU 1500
GLOBAL_BATCH, WORKER_BATCH = 128, 64
WORKER_LINE = re.compile(r"Worker (\d+): (\d+) steps, (\d+) samples; compute ([\d.]+) s, exchange with the server ([\d.]+) s")

def name(link, mode, r):
    return f"{link}-{mode}-r{r}"

def epoch_rates(run):
    """The server's samples/s of every epoch after the first (warm-up) of one run."""
    events = [e for e in map(json.loads, open(f"{out}/{run}.jsonl")) if e.get("event") == "epoch"]
    return [e["samples_per_second"] for e in events[1:]]

def other_load(run):
    return load_share(f"{out}/{run}.load", tick, ncpu)

load = {(l, m, r): other_load(name(l, m, r)) for l, m in configs for r in range(1, rounds + 1)}
clean = [r for r in range(1, rounds + 1) if all(load[l, m, r] <= DISTURBED for l, m in configs)]
used = clean or list(range(1, rounds + 1))

print("\nper run (median of the epochs after the first; other load = CPU share others took meanwhile):")
for l, m in configs:
    for r in range(1, rounds + 1):
        print(f"  {name(l, m, r):<18} {statistics.median(epoch_rates(name(l, m, r))):>10,.0f} samples/s   other load {load[l, m, r]:4.0%}")

results = {}
for l, m in configs:
    rates = [x for r in used for x in epoch_rates(name(l, m, r))]
    results[l, m] = {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "epochs": len(rates)}

def worker_times(l, m):
    """Median compute and exchange ms per step of the workers (whole runs, warm-up included)."""
    compute, exchange = [], []
    for r in used:
        for host in (1, 2):
            for line in open(f"{out}/{name(l, m, r)}.worker{host}.log"):
                if match := WORKER_LINE.search(line):
                    steps = int(match[2])
                    compute.append(1e3 * float(match[4]) / steps)
                    exchange.append(1e3 * float(match[5]) / steps)
    return (statistics.median(compute), statistics.median(exchange)) if compute else (float("nan"), float("nan"))

def ceiling(l, m, frames_per_sync_step=3):
    """Samples/s the server's link allows. Sync: the weights go out only once both gradients are in, so a
    step takes at best 3 frame-times (the first worker's weights; the second's while the first gradient comes
    back; the second gradient), 4 if both weights share the link evenly. Async: at best both directions stay
    busy, one frame each way per 64 samples."""
    rate = RATES[l]
    if rate is None:
        return None
    if m == "sync":
        return GLOBAL_BATCH / (frames_per_sync_step * FRAME * WIRE * 8 / rate)
    return WORKER_BATCH / (FRAME * WIRE * 8 / rate)

def fmt(x):
    return f"{x:,.0f}"

table = ["| links | mode | median samples/s | min–max | epochs | vs plain links | link-bound ceiling | of the ceiling "
         "| worker compute ms/step | worker exchange ms/step |",
         "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
for l, m in configs:
    s, cap = results[l, m], ceiling(l, m)
    versus = f"{s['median'] / results['plain', m]['median']:.2f}×" if ("plain", m) in results else "—"
    compute, exchange = worker_times(l, m)
    share = f"{s['median'] / cap:.0%}" if cap else "—"
    table.append(f"| {LINK_NAMES[l]} | {m} | {fmt(s['median'])} | {fmt(s['min'])}–{fmt(s['max'])} | {s['epochs']} | {versus} "
                 f"| {fmt(cap) if cap else '—'} | {share} | {compute:.2f} | {exchange:.2f} |")

# Ratios within each round (the plain run of the same round), which a drifting host speed does not skew.
round_ratios = []
for l, m in configs:
    if l == "plain" or "plain" not in links:
        continue
    values = ", ".join(f"{statistics.median(epoch_rates(name(l, m, r))) / statistics.median(epoch_rates(name('plain', m, r))):.2f}"
                       for r in range(1, rounds + 1))
    round_ratios.append(f"{LINK_NAMES[l]} {m}: {values}")

def probe(l):
    mbits = float(open(f"{out}/{l}.probe").read().split()[-1])
    return f"{LINK_NAMES[l]}: {mbits:,.0f} Mbit/s" + (f" ({mbits * 1e6 / RATES[l]:.1%} of the rate)" if RATES[l] else "")
probes = "; ".join(probe(l) for l in links)
tc_lines = "\n".join(f"    {line.rstrip()}" for l in links if l != "plain" for line in open(f"{out}/{l}.tc"))
limits = "; ".join(f"{LINK_NAMES[l]}: burst {b:,} bytes (1 ms at the rate), limit {int(RATES[l] / 8 * 0.05 + b):,} bytes"
                   for l, b in (("1gbit", 125000), ("100mbit", 12500)) if l in links)

load_note = rounds_note(rounds, clean, load.values(), what="run")
load_note += " (per run: " + ", ".join(f"{name(l, m, r)} {load[l, m, r]:.0%}" for l, m in configs for r in range(1, rounds + 1)) + ")"

sync_1g, sync_1g_even, async_1g = ceiling("1gbit", "sync"), ceiling("1gbit", "sync", 4), ceiling("1gbit", "async")
section = f"""## Separate hosts: network namespaces and shaped links (issue 6)

`trainer server` in one network namespace and a `trainer worker` in each of two others (three hosts
joined by veth pairs to a bridge in a fourth namespace, MTU 1500, over tcp without CURVE), training the
tutorial's MNIST MLP (784-128-64-10, SGD lr 0.01 momentum 0.9, batch 64 per worker, global 128), each
process on one BLAS thread; {rounds} round{"s" if rounds != 1 else ""} of {epochs} epochs per configuration, the configurations
alternating within a round; the first epoch of every run is discarded as warm-up. Samples/s is the
server's training time per epoch (without the evaluation). Shaped links have a token bucket filter on
both ends of every link (each host's `eth0` and its bridge end), so both directions are shaped; this
kernel has no netem, so no delay is added.

{chr(10).join(table)}

Shaped / plain within each round, in run order: {"; ".join(round_ratios) or "—"}.

### Bytes per step and the link-bound ceiling

The MLP has {PARAMETERS:,} float parameters: a gradient or weights frame is {FRAME:,} bytes (plus a header
of under 200 bytes). In every step each worker pushes one gradient and receives the weights, so per sync
step (128 samples) the server's link carries {2 * FRAME:,} bytes in (both gradients) and then
{2 * FRAME:,} bytes out (both weights); a worker's link carries {FRAME:,} bytes each way. On the wire
TCP/IP/Ethernet adds {WIRE - 1:.1%} (1514 bytes per 1448 of payload with TCP timestamps), and tbf counts
those bytes. A frame takes {FRAME * WIRE * 8 / 1e9 * 1e3:.2f} ms of a 1 Gbit/s link
({FRAME * WIRE * 8 / 1e8 * 1e3:.1f} ms at 100 Mbit/s). In sync mode the server sends weights only once both
gradients are in, so a step takes at best 3 frame-times of its link (the first worker's weights; the
second's while the first worker's gradient comes back; the second gradient): at most {fmt(sync_1g)}
samples/s at 1 Gbit/s and {fmt(sync_1g / 10)} at 100 Mbit/s, the ceiling in the table; 4 frame-times
({fmt(sync_1g_even)} and {fmt(sync_1g_even / 10)}) if both workers' weights share the link evenly and arrive
together. In async mode each worker step (64 samples) moves one frame each way and the two workers can
keep both directions busy at once: at most {fmt(async_1g)} samples/s at 1 Gbit/s and {fmt(async_1g / 10)}
at 100 Mbit/s. A figure near its ceiling, with the worker's exchange time per step near the frame-times
it implies, is link-bound. A direction idle for a while passes up to its bucket (1 ms of traffic) at once,
which can lift a figure by a few percent.

### Link settings

tbf parameters: {limits} (tc computes the limit as rate × latency {env['BENCH_LATENCY']} + burst). `man tc-tbf`
asks for a bucket of at least rate / HZ (HZ {env['BENCH_KERNEL'].split('HZ ')[-1]} here: 500,000 and 50,000 bytes) for timer-tick
shapers; this kernel's packet scheduler runs on high-resolution timers (`/proc/net/psched`:
`{env['BENCH_PSCHED']}`, a 1 GHz clock), and with 1 ms buckets a raw TCP transfer from host1 to
host0 (Python sockets) comes close to TCP's goodput of {1 / WIRE:.1%} of the rate: {probes}. A bucket as large as a step's
{2 * FRAME:,} bytes would pass whole steps unshaped after every pause. The commands, per link setting:

{tc_lines}

- Command: `{env['BENCH_COMMAND']}`, as root
- Machine: {env['BENCH_CPU']}, `nproc` {ncpu}; kernel {env['BENCH_KERNEL']}; OpenBLAS `OPENBLAS_CORETYPE={env['BENCH_CORETYPE']}`;
  Swift {env['BENCH_SWIFT']}
- Date: {env['BENCH_DATE']}; commit {env['BENCH_COMMIT']}
- Load: {load_note}. A run that waits on its link leaves the cores idle, and other processes (other
  builds on a shared machine) fill them, so a high figure there says little about the shaped runs;
  the load shows in the spread of the plain-link runs, which are CPU-bound.
"""

print()
print(section)

write_section(doc, section)
EOF
