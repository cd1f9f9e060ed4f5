#!/usr/bin/env bash
# What issue 11's redesign costs (benchmark c): `trainer local` sync and ClusterBenchmark's round trip,
# an OLD commit against a NEW one, alternately in one go.
#
# Exports each commit with `git archive` into a temporary folder, builds `trainer` and
# `ClusterBenchmark` there in release (scratch path .build-bench inside the export, so the checkout's
# own builds are left alone), then runs ROUNDS rounds; in each, the two builds in turn (OLD first in
# odd rounds, NEW first in even ones):
#   - trainer local --workers 2 --mode sync --batch-size 64 --epochs EPOCHS --dataset mnist
#       --data-dir DIR --metrics FILE          (inproc; a run's figure is the median samples/s of its
#                                              epochs after the first, the server's training time)
#   - ClusterBenchmark                         (defaults: MLP 400 steps, CNN 60 steps, 5 repetitions;
#                                              server round trip, raw ZeroMQ round trip, their ratio)
#   - with DIRECT=1, also trainer local ... --transport direct, if both builds accept it;
#   - with NEW_VARIANT="FLAGS", also NEW's trainer local (inproc) with FLAGS added, third in the round's
#     order (first in even rounds): to see what one of NEW's defaults costs, e.g.
#     NEW_VARIANT="--max-gradient-norm off".
# For every run it records the other processes' share of the CPU (Benchmarks/common.sh's counters),
# the run's own CPU seconds, and /proc/loadavg before and after. Prints the figures and NEW/OLD ratios
# per round and their medians, and writes them as the section "## The redesign's cost: ..." of
# docs/benchmarks.md (a hand-written reading below the generated part is not kept on a re-run).
#
#   OLD=c813ed3 NEW=HEAD ROUNDS=5 Benchmarks/redesign_cost.sh [DATA_DIR]
#
# Environment: OLD, NEW (commits; default c813ed3 and HEAD), ROUNDS (default 5), EPOCHS (default 3),
# DIRECT (1: also --transport direct when both have it; default 1), DATA_DIR (or the first argument;
# default $TRAINER_DATA_DIR, else ../shared/data), OLD_DIR / NEW_DIR (an existing export of the
# commit, built or not, to use instead of a fresh one; it is kept), NEW_VARIANT (see above), KEEP (a folder to
# copy the runs' outputs, metrics and load files into), PYTHON (default python3), DOC (the
# page to write, default docs/benchmarks.md).
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
EPOCHS=${EPOCHS:-3}
DIRECT=${DIRECT:-1}
PYTHON=${PYTHON:-python3}
DATA_DIR=$(realpath "${1:-${DATA_DIR:-${TRAINER_DATA_DIR:-../shared/data}}}")
OLD_COMMIT=$(git rev-parse --short "${OLD:-c813ed3}")
NEW_COMMIT=$(git rev-parse --short "${NEW:-HEAD}")
DOC=${DOC:-docs/benchmarks.md}
if (( EPOCHS < 2 )); then echo "EPOCHS must be at least 2 (the first epoch is discarded)" >&2; exit 1; fi
if (( ROUNDS < 1 || ROUNDS > 20 )); then echo "ROUNDS must be 1 to 20" >&2; exit 1; fi

OUT=$(mktemp -d)
CLEANUP=("$OUT")
trap 'rm -rf "${CLEANUP[@]}"' EXIT

# Exports and builds one commit; prints the export's folder.
prepare() {  # which commit given-dir
    local which=$1 commit=$2 dir=${3:-}
    if [[ -z "$dir" ]]; then
        dir=$(mktemp -d "/tmp/redesign-$which.XXXXXX")
        CLEANUP+=("$dir")
        git archive "$commit" | tar -x -C "$dir"
    fi
    echo "== building $which ($commit) in $dir" >&2
    if ! (cd "$dir" && swift build -c release --scratch-path .build-bench > "$OUT/build-$which.log" 2>&1); then
        cat "$OUT/build-$which.log" >&2
        echo "error: the release build of $which ($commit) failed" >&2
        exit 1
    fi
    tail -n 1 "$OUT/build-$which.log" >&2
    BIN[$which]="$dir/.build-bench/release"
}
declare -A BIN
prepare old "$OLD_COMMIT" "${OLD_DIR:-}"
prepare new "$NEW_COMMIT" "${NEW_DIR:-}"

if [[ "$DIRECT" == 1 ]]; then
    for which in old new; do
        HELP=$("${BIN[$which]}/trainer" local --help)
        if [[ "$HELP" != *"direct"* ]]; then
            echo "== $which's trainer has no --transport direct: the direct runs are skipped"
            DIRECT=0
            break
        fi
    done
fi

source Benchmarks/common.sh

# Runs a command with its output in $OUT/NAME.log; writes "<other ticks> <steal ticks> <wall s>" to
# $OUT/NAME.load, its own CPU ticks to $OUT/NAME.own and the load averages before and after to $OUT/NAME.uptime.
timed() {  # NAME command...
    local name=$1; shift
    local busy0 steal0 own0 start load0
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    busy0=$(cpu_busy) steal0=$(cpu_steal) own0=$(own_cpu) start=$(date +%s.%N)
    if ! "$@" > "$OUT/$name.log" 2> "$OUT/$name.err"; then
        tail -n 20 "$OUT/$name.err" >&2
        echo "error: the run $name failed: $*" >&2
        exit 1
    fi
    local own=$(( $(own_cpu) - own0 ))
    echo "$(( $(cpu_busy) - busy0 - own )) $(( $(cpu_steal) - steal0 ))" \
         "$(echo "$(date +%s.%N) - $start" | bc)" > "$OUT/$name.load"
    echo "$own" > "$OUT/$name.own"
    echo "$load0 | $(cut -d' ' -f1-3 /proc/loadavg)" > "$OUT/$name.uptime"
}

run_local() {  # which transport round [flags...]
    local which=$1 transport=$2 round=$3; shift 3
    timed "local-$transport-$which-r$round" "${BIN[${which%-variant}]}/trainer" local --workers 2 --mode sync \
        --transport "$transport" --batch-size 64 --epochs "$EPOCHS" --dataset mnist --data-dir "$DATA_DIR" \
        --metrics "$OUT/local-$transport-$which-r$round.jsonl" "$@"
}
run_roundtrip() {  # which round
    timed "roundtrip-$1-r$2" "${BIN[$1]}/ClusterBenchmark"
}

TRANSPORTS=inproc
if [[ "$DIRECT" == 1 ]]; then TRANSPORTS="inproc direct"; fi
echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'); uptime: $(uptime)"
uptime > "$OUT/uptime-start"
START=$(date -u '+%Y-%m-%d %H:%M UTC')
for round in $(seq 1 "$ROUNDS"); do
    if (( round % 2 )); then ORDER="old new"; else ORDER="new old"; fi
    echo "== round $round/$ROUNDS ($ORDER), load $(cut -d' ' -f1-3 /proc/loadavg)"
    for transport in $TRANSPORTS; do
        if [[ -n "${NEW_VARIANT:-}" && "$transport" == inproc ]] && (( round % 2 == 0 )); then
            # shellcheck disable=SC2086
            run_local new-variant inproc "$round" $NEW_VARIANT
        fi
        for which in $ORDER; do run_local "$which" "$transport" "$round"; done
        if [[ -n "${NEW_VARIANT:-}" && "$transport" == inproc ]] && (( round % 2 == 1 )); then
            # shellcheck disable=SC2086
            run_local new-variant inproc "$round" $NEW_VARIANT
        fi
    done
    for which in $ORDER; do run_roundtrip "$which" "$round"; done
done
uptime > "$OUT/uptime-end"
if [[ -n "${KEEP:-}" ]]; then mkdir -p "$KEEP" && cp -r "$OUT"/. "$KEEP"/; fi
echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'); uptime: $(uptime)"

export BENCH_OUT="$OUT" BENCH_DOC="$DOC" BENCH_ROUNDS="$ROUNDS" BENCH_EPOCHS="$EPOCHS" BENCH_TRANSPORTS="$TRANSPORTS"
export BENCH_VARIANT="${NEW_VARIANT:-}" BENCH_OLD="$OLD_COMMIT" BENCH_NEW="$NEW_COMMIT" BENCH_START="$START"
export BENCH_END=$(date -u '+%H:%M UTC')
export BENCH_CLK_TCK=$(getconf CLK_TCK) BENCH_NPROC=$(nproc)
export BENCH_CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
export BENCH_CORETYPE=${OPENBLAS_CORETYPE-unset}
export BENCH_SWIFT=$(swift --version 2>&1 | sed -n 's/.*Swift version \([^ ]*\).*/\1/p' | head -n 1)
export BENCH_COMMAND="${NEW_VARIANT:+NEW_VARIANT='$NEW_VARIANT' }OLD=$OLD_COMMIT NEW=$NEW_COMMIT ROUNDS=$ROUNDS EPOCHS=$EPOCHS Benchmarks/redesign_cost.sh $DATA_DIR"

"$PYTHON" - <<'EOF'
import json, os, re, statistics, sys
sys.path.insert(0, "Benchmarks")
from benchmarks_doc import other_load, write_section

env = os.environ
out, rounds, epochs = env["BENCH_OUT"], int(env["BENCH_ROUNDS"]), int(env["BENCH_EPOCHS"])
tick, ncpu = int(env["BENCH_CLK_TCK"]), int(env["BENCH_NPROC"])
transports = env["BENCH_TRANSPORTS"].split()
old, new = env["BENCH_OLD"], env["BENCH_NEW"]
variant = env["BENCH_VARIANT"]
R = range(1, rounds + 1)
WORKER = re.compile(r"Worker (\d+): (\d+) steps, (\d+) samples; compute ([\d.]+) s, exchange with the server ([\d.]+) s"
                    r"(?: \(of which waiting for the other workers ([\d.]+) s\))?")
med = statistics.median

def epochs_of(name):
    return [e for e in map(json.loads, open(f"{out}/{name}.jsonl")) if e.get("event") == "epoch"]

def rate(name):
    return med([e["samples_per_second"] for e in epochs_of(name)[1:]])

def update_ms(name):
    kept = epochs_of(name)[1:]
    return 1e3 * sum(e.get("update_seconds", 0) for e in kept) / max(1, sum(e.get("updates", 0) for e in kept))

def share(name):
    return other_load(f"{out}/{name}.load", tick, ncpu)

def own_seconds(name):
    return int(open(f"{out}/{name}.own").read()) / tick

def loadavg(name):
    before, after = open(f"{out}/{name}.uptime").read().split("|")
    return before.split()[0], after.split()[0]

def per_step(name):
    """Median over the workers of compute and exchange ms per step (whole run)."""
    rows = [WORKER.search(l) for l in open(f"{out}/{name}.log")]
    rows = [m for m in rows if m]
    if not rows:
        return None, None
    return (med(1e3 * float(m[4]) / int(m[2]) for m in rows), med(1e3 * float(m[5]) / int(m[2]) for m in rows))

def roundtrip(name):
    return {r["model"]: r for r in json.load(open(f"{out}/{name}.log"))["roundtrip"]}

def core(name):
    return json.load(open(f"{out}/{name}.log")).get("openblas_core", "unknown")

def f0(x): return f"{x:,.0f}"
def ratio(x): return f"{x:.2f}×"

lines, summary = [], {}
for t in transports:
    table = [f"| round (order) | OLD samples/s | NEW samples/s | NEW/OLD | OLD / NEW CPU s per run | OLD / NEW compute ms/step | OLD / NEW exchange ms/step | OLD / NEW server's update ms | other processes' CPU share (OLD, NEW) | load average before → after (OLD; NEW) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    ratios = []
    for r in R:
        o, n = f"local-{t}-old-r{r}", f"local-{t}-new-r{r}"
        q = rate(n) / rate(o); ratios.append(q)
        (oc, oe), (nc, ne) = per_step(o), per_step(n)
        steps = lambda a, b: f"{a:.3f} / {b:.3f}" if a is not None and b is not None else "—"
        table.append(f"| {r} ({'OLD, NEW' if r % 2 else 'NEW, OLD'}) | {f0(rate(o))} | {f0(rate(n))} | {ratio(q)} "
                     f"| {own_seconds(o):.2f} / {own_seconds(n):.2f} | {steps(oc, nc)} | {steps(oe, ne)} | {update_ms(o):.3f} / {update_ms(n):.3f} "
                     f"| {share(o):.0%}, {share(n):.0%} | {' → '.join(loadavg(o))}; {' → '.join(loadavg(n))} |")
    om, nm = med(rate(f"local-{t}-old-r{r}") for r in R), med(rate(f"local-{t}-new-r{r}") for r in R)
    cpu_o, cpu_n = med(own_seconds(f"local-{t}-old-r{r}") for r in R), med(own_seconds(f"local-{t}-new-r{r}") for r in R)
    table.append(f"| median | {f0(om)} | {f0(nm)} | **{ratio(med(ratios))}** (rounds {min(ratios):.2f}–{max(ratios):.2f}) "
                 f"| {cpu_o:.2f} / {cpu_n:.2f} | | | {med(update_ms(f'local-{t}-old-r{r}') for r in R):.3f} / "
                 f"{med(update_ms(f'local-{t}-new-r{r}') for r in R):.3f} | | |")
    summary[t] = (med(ratios), min(ratios), max(ratios))
    lines.append((t, table))

if variant:
    table = [f"| round | NEW `{variant}` samples/s | its / OLD | its / NEW | CPU s per run | compute ms/step | exchange ms/step | server's update ms | other processes' CPU share | load average before → after |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    vo, vn = [], []
    for r in R:
        v = f"local-inproc-new-variant-r{r}"
        vo.append(rate(v) / rate(f"local-inproc-old-r{r}")); vn.append(rate(v) / rate(f"local-inproc-new-r{r}"))
        c, e = per_step(v)
        table.append(f"| {r} | {f0(rate(v))} | {vo[-1]:.2f}× | {vn[-1]:.2f}× | {own_seconds(v):.2f} | {c:.3f} | {e:.3f} | {update_ms(v):.3f} "
                     f"| {share(v):.0%} | {' → '.join(loadavg(v))} |")
    table.append(f"| median | {f0(med(rate(f'local-inproc-new-variant-r{r}') for r in R))} | **{ratio(med(vo))}** ({min(vo):.2f}–{max(vo):.2f}) "
                 f"| **{ratio(med(vn))}** ({min(vn):.2f}–{max(vn):.2f}) | {med(own_seconds(f'local-inproc-new-variant-r{r}') for r in R):.2f} | | "
                 f"| {med(update_ms(f'local-inproc-new-variant-r{r}') for r in R):.3f} | | |")
    lines.append(("inproc` with NEW and `" + variant, table))

rt_table = ["| round | model | OLD server / raw, ms | OLD server / raw | NEW server / raw, ms | NEW server / raw | NEW/OLD of server / raw | NEW/OLD server round trip | OLD / NEW server's update, ms | other processes' CPU share (OLD, NEW) |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
rt = {m: {"q": [], "s": [], "o": [], "n": []} for m in ("mlp", "cnn")}
for r in R:
    o, n = roundtrip(f"roundtrip-old-r{r}"), roundtrip(f"roundtrip-new-r{r}")
    for m in ("mlp", "cnn"):
        a, b = o[m], n[m]
        q, s = b["ratio"] / a["ratio"], b["server_ms"] / a["server_ms"]
        rt[m]["q"].append(q); rt[m]["s"].append(s); rt[m]["o"].append(a); rt[m]["n"].append(b)
        rt_table.append(f"| {r} | {m} | {a['server_ms']:.3f} / {a['raw_ms']:.3f} | {a['ratio']:.2f}× | {b['server_ms']:.3f} / {b['raw_ms']:.3f} "
                        f"| {b['ratio']:.2f}× | {ratio(q)} | {ratio(s)} | {a['server_update_ms']:.3f} / {b['server_update_ms']:.3f} "
                        f"| {share(f'roundtrip-old-r{r}'):.0%}, {share(f'roundtrip-new-r{r}'):.0%} |")
for m in ("mlp", "cnn"):
    d = rt[m]
    k = lambda side, key: med(x[key] for x in d[side])
    rt_table.append(f"| median | {m} | {k('o', 'server_ms'):.3f} / {k('o', 'raw_ms'):.3f} | {k('o', 'ratio'):.2f}× "
                    f"| {k('n', 'server_ms'):.3f} / {k('n', 'raw_ms'):.3f} | {k('n', 'ratio'):.2f}× "
                    f"| **{ratio(med(d['q']))}** ({min(d['q']):.2f}–{max(d['q']):.2f}) | {ratio(med(d['s']))} ({min(d['s']):.2f}–{max(d['s']):.2f}) "
                    f"| {k('o', 'server_update_ms'):.3f} / {k('n', 'server_update_ms'):.3f} | |")

cores = sorted({core(f"roundtrip-{w}-r{r}") for w in ("old", "new") for r in R})
runs = [f"{k}-{w}-r{r}" for k in [f"local-{t}" for t in transports] + ["roundtrip"] for w in ("old", "new") for r in R]
runs += [f"local-inproc-new-variant-r{r}" for r in R] if variant else []
shares = [share(name) for name in runs]
loads = [float(x) for name in runs for x in loadavg(name)]
start_up, end_up = open(f"{out}/uptime-start").read().strip(), open(f"{out}/uptime-end").read().strip()

parts = [f"""## The redesign's cost: `trainer local` sync and the round trip, before and after (issue 11, benchmark c)

Issue 11's benchmark (c): the redesign (server policies, the transport seam, computing off the socket
thread, server shards) should cost nothing against the figures of the section "Cluster: parameter
server and workers (issue 4)" (commit c813ed3). `Benchmarks/redesign_cost.sh` exports OLD = `{old}`
and NEW = `{new}` with `git archive`, builds each in release, and runs them alternately in one go,
{rounds} rounds (OLD first in odd rounds, NEW first in even ones): the tutorial's MNIST MLP with
`trainer local` sync, 2 workers × 64, {epochs} epochs (a run's figure is the median samples/s of its
epochs after the first, the server's training time), then each build's `ClusterBenchmark`.
""" + (f"NEW's `trainer local` also ran with `{variant}` (last of the round's `trainer local` runs in odd rounds, first in even ones).\n" if variant else "")]
for t, table in lines:
    parts.append(f"`trainer local --workers 2 --mode sync --transport {t}` (compute and exchange per step: the workers' "
                 f"own report, whole run, median of the 2 workers; CPU s: the run's user + sys):\n\n" + "\n".join(table) + "\n")
parts.append("`ClusterBenchmark` (one server, one worker, batch 1, over tcp on 127.0.0.1, against a raw DEALER/ROUTER pair "
             "moving the same bytes; each figure is the median of 5 repetitions):\n\n" + "\n".join(rt_table) + "\n")
parts.append(f"""- Command: `{env['BENCH_COMMAND']}`, which runs, for each build,
  `trainer local --workers 2 --mode sync --transport {'|'.join(transports)} --batch-size 64 --epochs {epochs} --dataset mnist --data-dir DIR --metrics FILE`
  and `ClusterBenchmark` (defaults: MLP 400 steps, CNN 60 steps, 5 repetitions)
- Machine: {env['BENCH_CPU']}, `nproc` {ncpu}; OpenBLAS core {', '.join(cores)} (`OPENBLAS_CORETYPE={env['BENCH_CORETYPE']}`); Swift {env['BENCH_SWIFT']}
- Date: {env['BENCH_START']} to {env['BENCH_END']}; commits OLD `{old}`, NEW `{new}`
- Load: other processes took {min(shares):.0%}–{max(shares):.0%} of the CPU during the runs (median {med(shares):.0%}); load average {min(loads):.1f}–{max(loads):.1f};
  `uptime` at the start: `{start_up}`; at the end: `{end_up}`
""")
section = "\n".join(parts)
print()
print(section)
for t in transports:
    print(f"samples/s NEW/OLD {t}: median {summary[t][0]:.2f} ({summary[t][1]:.2f}-{summary[t][2]:.2f})")
write_section(env["BENCH_DOC"], section)
EOF
