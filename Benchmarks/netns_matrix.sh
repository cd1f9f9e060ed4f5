#!/usr/bin/env bash
# Modes and codecs against PyTorch DDP communication hooks, on separate hosts over plain and shaped links
# (issue 12): bytes on the wire per training sample, samples/s, and training time to 97 % MNIST test accuracy.
# Needs root (ip netns, tc) and, for the DDP runs, PyTorch (pip; for this benchmark only).
#
# The hosts are those of Benchmarks/netns.sh (Benchmarks/netns_hosts.sh: host0, host1, host2 in their own
# network namespaces, joined by veth pairs to a bridge; links plain, or tbf 1 Gbit/s or 100 Mbit/s on both
# ends of every link). For every link in LINKS, round by round, it runs:
#   - each trainer run of RUNS on the MNIST MLP (EPOCHS epochs) and of CNN_RUNS on the CIFAR-10 CNN
#     (CNN_EPOCHS epochs):
#       host0:        trainer server --bind tcp://10.213.0.1:5555 --workers 2 --mode MODE [flags] --threads 1
#       host1, host2: trainer worker --connect tcp://10.213.0.1:5555 --threads 1
#     (batch 64 per worker, global 128, the trainer's default hyper-parameters: SGD lr 0.01 momentum 0.9);
#   - each DDP run of DDP_RUNS: Benchmarks/pytorch_ddp.py rank 0 on host1 and rank 1 on host2 (gloo over
#     eth0, one thread per process, the same MLP, batch 64 per rank, global 128, the same MNIST files).
# Within a round the runs alternate (every configuration once per round; even rounds in reverse order).
#
# A trainer run is written MODE[:TOKEN]...; tokens:
#   none | bf16 | fp16 | topk:F   the push codec: --compress CODEC (none passes no flag: the default)
#   w=CODEC                       the weights codec: --compress-weights CODEC (w=topk:F too)
#   H=N                           --sync-every N (local SGD)
#   S=N                           --staleness N (SSP)
#   --flag=VALUE | --flag         passed to the server as --flag VALUE | --flag
# e.g. "sync:none sync:bf16 sync:topk:0.01 async:none local-sgd:H=8:bf16". A DDP run is its hook: none,
# fp16, bf16 or powersgd[:RANK] (PowerSGD rank RANK, default POWERSGD_RANK).
#
# Per run it reads the byte counters of every host's eth0 before and after (/sys/class/net/eth0/statistics,
# Ethernet frames without the FCS) and reports the bytes all hosts sent (the sum of their tx; for the
# parameter server this is its eth0's rx + tx, checked) per training sample; samples/s is the median of the
# epochs after the first (the server's per-epoch training rate, DDP's rank-0 epoch time between barriers);
# the time to TARGET is the training seconds summed over the epochs up to the first whose test accuracy
# reaches it (evaluation and start-up left out on both sides). The summary, with the issue's targets at
# 1 Gbit/s judged, is written as the section "## Separate hosts: codecs, local SGD and DDP hooks
# (issue 12)" of docs/benchmarks.md (Benchmarks/netns_matrix_report.py).
#
#   sudo Benchmarks/netns_matrix.sh
#   LINKS="plain 1gbit" RUNS="sync:none async:none" DDP_RUNS="none fp16" EPOCHS=3 Benchmarks/netns_matrix.sh
#
# Environment (a variable with the suffix _LINK, e.g. RUNS_100mbit or EPOCHS_100mbit, overrides it on that link):
#   LINKS       plain 1gbit 100mbit (default "plain 1gbit")
#   RUNS        MLP trainer runs (default "sync:none async:none")
#   CNN_RUNS    CNN trainer runs (default "sync:none"; empty: no CNN)
#   DDP_RUNS    DDP hooks (default "none fp16 powersgd"; empty: no DDP)
#   EPOCHS, CNN_EPOCHS   epochs per MLP and CNN run (default 10 and 3; at least 2)
#   ROUNDS (default 1), TARGET (default 0.97), POWERSGD_RANK (default 2), POWERSGD_START (default 10),
#   DDP_STOP (default 1; empty: DDP runs train all their epochs): a DDP run ends after the first epoch, from the
#   second on, that reaches TARGET (pytorch_ddp.py --stop-at-target; trainer runs always train all their epochs),
#   EPOCH_LIMIT (seconds an epoch may take before a run is stopped as failed, default 300), DATA_DIR
#   (default $TRAINER_DATA_DIR, else ../shared/data), SCRATCH (default .build-bench), PYTHON (default python3),
#   COMMIT (what to record as the measured source when the tree is not a git checkout), NO_DOC (set: print
#   the summary, do not write docs/benchmarks.md), KEEP (a folder to copy the runs' files to, with report.env to
#   re-run the report on them).
#
# Other processes distort every figure on a shared machine: as netns.sh does, the script measures the CPU time
# the machine spent outside each run (and steal) and reports it per run with the load average.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-1}
LINKS=${LINKS:-plain 1gbit}
RUNS=${RUNS-sync:none async:none}
CNN_RUNS=${CNN_RUNS-sync:none}
DDP_RUNS=${DDP_RUNS-none fp16 powersgd}
EPOCHS=${EPOCHS:-10}
CNN_EPOCHS=${CNN_EPOCHS:-3}
TARGET=${TARGET:-0.97}
POWERSGD_RANK=${POWERSGD_RANK:-2}
POWERSGD_START=${POWERSGD_START:-10}
EPOCH_LIMIT=${EPOCH_LIMIT:-300}
DDP_STOP=${DDP_STOP-1}
SCRATCH=${SCRATCH:-.build-bench}
PYTHON=${PYTHON:-python3}
DATA_DIR=$(realpath "${DATA_DIR:-${TRAINER_DATA_DIR:-../shared/data}}")
DOC=docs/benchmarks.md
DDP_PORT=29500   # the first DDP run's rendezvous port; every later run takes the next

# VAR's value on LINK: VAR_LINK if set, else VAR.
on_link() {  # var link
    local specific="$1_$2"
    if [[ -n "${!specific+set}" ]]; then echo "${!specific}"; else echo "${!1}"; fi
}

if [[ $(id -u) != 0 ]]; then echo "error: Benchmarks/netns_matrix.sh needs root (ip netns, tc)" >&2; exit 1; fi
if [[ ! -d "$DATA_DIR/mnist" ]]; then echo "error: no MNIST in $DATA_DIR/mnist (set DATA_DIR or TRAINER_DATA_DIR)" >&2; exit 1; fi
need_ddp=0 need_cnn=0
for link in $LINKS; do
    case $link in plain|1gbit|100mbit) ;; *) echo "error: unknown link setting $link in LINKS (plain, 1gbit, 100mbit)" >&2; exit 1 ;; esac
    for var in EPOCHS CNN_EPOCHS; do
        value=$(on_link $var "$link")
        if ! [[ $value =~ ^[0-9]+$ ]] || (( value < 2 )); then
            echo "error: $var on $link is '$value': give at least 2 epochs (the first is discarded)" >&2; exit 1
        fi
    done
    for hook in $(on_link DDP_RUNS "$link"); do
        need_ddp=1
        [[ $hook =~ ^(none|fp16|bf16|powersgd(:[0-9]+)?)$ ]] || { echo "error: unknown DDP run '$hook' in DDP_RUNS (none, fp16, bf16, powersgd[:RANK])" >&2; exit 1; }
    done
    [[ -z "$(on_link CNN_RUNS "$link")" ]] || need_cnn=1
done
if (( need_cnn )) && [[ ! -d "$DATA_DIR/cifar-10-batches-bin" ]]; then
    echo "error: CNN runs need CIFAR-10 in $DATA_DIR/cifar-10-batches-bin (or CNN_RUNS=\"\")" >&2; exit 1
fi
if (( need_ddp )) && ! "$PYTHON" -c "import torch" 2>/dev/null; then
    echo "error: the DDP runs need PyTorch for $PYTHON (pip install torch numpy), or DDP_RUNS=\"\"" >&2; exit 1
fi

# The namespaces, shaping, probe and byte counters (sets NS, OUT and the EXIT trap that removes them).
source Benchmarks/netns_hosts.sh
# cpu_busy, cpu_steal, own_cpu: CPU time in clock ticks, to tell other processes' load from a run's own.
source Benchmarks/common.sh

# The server flags of a trainer run written MODE[:TOKEN]... (see the header), into the array FLAGS.
run_flags() {  # spec
    local -a tokens
    local i=1 token
    IFS=: read -r -a tokens <<< "$1"
    FLAGS=(--mode "${tokens[0]}")
    while (( i < ${#tokens[@]} )); do
        token=${tokens[i]}
        case $token in
            none) ;;
            bf16|fp16) FLAGS+=(--compress "$token") ;;
            topk) i=$(( i + 1 )); FLAGS+=(--compress "topk:${tokens[i]:?topk needs a fraction in $1}") ;;
            w=topk) i=$(( i + 1 )); FLAGS+=(--compress-weights "topk:${tokens[i]:?w=topk needs a fraction in $1}") ;;
            w=*) FLAGS+=(--compress-weights "${token#w=}") ;;
            H=*) FLAGS+=(--sync-every "${token#H=}") ;;
            S=*) FLAGS+=(--staleness "${token#S=}") ;;
            --*=*) FLAGS+=("${token%%=*}" "${token#*=}") ;;
            --*) FLAGS+=("$token") ;;
            *) echo "error: unknown token '$token' in the run '$1' (see the header of Benchmarks/netns_matrix.sh)" >&2; exit 1 ;;
        esac
        i=$(( i + 1 ))
    done
}
for link in $LINKS; do
    for spec in $(on_link RUNS "$link") $(on_link CNN_RUNS "$link"); do run_flags "$spec"; done
done

echo "== building trainer (release, scratch path $SCRATCH)"
if ! swift build -c release --product trainer --scratch-path "$SCRATCH" > "$OUT/build.log" 2>&1; then
    cat "$OUT/build.log" >&2
    echo "error: the release build of trainer failed" >&2
    exit 1
fi
tail -n 1 "$OUT/build.log"
TRAINER=$(realpath "$SCRATCH/release/trainer")
SERVER_HELP=$("$TRAINER" server --help)
for link in $LINKS; do
    for spec in $(on_link RUNS "$link") $(on_link CNN_RUNS "$link"); do
        run_flags "$spec"
        if [[ ${FLAGS[1]} != sync && ${FLAGS[1]} != async ]] && ! grep -q -- "${FLAGS[1]}" <<< "$SERVER_HELP"; then
            echo "error: this trainer's server --help does not name the mode ${FLAGS[1]} (run $spec on $link)" >&2; exit 1
        fi
        for flag in "${FLAGS[@]}"; do
            if [[ $flag == --* ]] && ! grep -qE -- "$flag( |,|$)" <<< "$SERVER_HELP"; then
                echo "error: this trainer's server has no flag $flag (run $spec on $link)" >&2; exit 1
            fi
        done
    done
done

make_hosts

# Before/after snapshots: "<other processes' ticks> <steal ticks> <wall seconds>" to NAME.load and the six
# eth0 counters' differences (rx tx of host0, host1, host2) to NAME.bytes.
begin_measure() {
    busy0=$(cpu_busy) steal0=$(cpu_steal) own0=$(own_cpu) start=$(date +%s.%N)
    bytes0="$(counters 0) $(counters 1) $(counters 2)"
}
end_measure() {  # name
    local -a before after
    local i differences=""
    echo "$(( $(cpu_busy) - busy0 - ($(own_cpu) - own0) )) $(( $(cpu_steal) - steal0 ))" \
         "$(echo "$(date +%s.%N) - $start" | bc)" > "$OUT/$1.load"
    read -r -a before <<< "$bytes0"
    read -r -a after <<< "$(counters 0) $(counters 1) $(counters 2)"
    for i in 0 1 2 3 4 5; do differences+="$(( after[i] - before[i] )) "; done
    echo "$differences" > "$OUT/$1.bytes"
}

# One server and two workers; writes NAME.jsonl (server metrics), the logs, NAME.load and NAME.bytes.
run_cluster() {  # name model spec epochs
    local name=$1 model=$2 spec=$3 epochs=$4 server tries=0 failed=0 host dataset=mnist limit
    local -a workers=()
    [[ $model == cnn ]] && dataset=cifar10
    limit=$(( 120 + epochs * EPOCH_LIMIT ))
    run_flags "$spec"
    begin_measure
    ip netns exec "${NS}host0" timeout -k 5 "$limit" "$TRAINER" server --bind "tcp://$SERVER_ADDRESS:5555" --workers 2 \
        --model "$model" --dataset "$dataset" --data-dir "$DATA_DIR" --epochs "$epochs" --threads 1 --join-timeout 60 \
        "${FLAGS[@]}" --metrics "$OUT/$name.jsonl" > "$OUT/$name.server.log" 2> "$OUT/$name.server.err" &
    server=$!
    until grep -q "listening on" "$OUT/$name.server.log" 2>/dev/null; do
        sleep 0.1; tries=$(( tries + 1 ))
        if (( tries > 600 )) || ! kill -0 "$server" 2>/dev/null; then
            cat "$OUT/$name.server.err" >&2; echo "error: the server of $name did not start listening" >&2; exit 1
        fi
    done
    for host in 1 2; do
        ip netns exec "${NS}host$host" timeout -k 5 "$limit" "$TRAINER" worker --connect "tcp://$SERVER_ADDRESS:5555" \
            --data-dir "$DATA_DIR" --threads 1 --timeout 120 > "$OUT/$name.worker$host.log" 2>&1 &
        workers+=($!)
    done
    for pid in "${workers[@]}" "$server"; do wait "$pid" || failed=1; done
    (( failed == 0 )) || fail_run "$name" "$limit"
    end_measure "$name"
}

# PyTorch DDP, rank 0 on host1 (the rendezvous) and rank 1 on host2; rank 0's JSON result to NAME.json.
run_ddp() {  # name hook epochs
    local name=$1 hook=${2%%:*} rank=$POWERSGD_RANK epochs=$3 limit failed=0 first second
    [[ $2 == *:* ]] && rank=${2#*:}
    limit=$(( 120 + epochs * EPOCH_LIMIT ))
    DDP_PORT=$(( DDP_PORT + 1 ))
    local -a flags=(Benchmarks/pytorch_ddp.py --world-size 2 --batch-size 64 --threads 1 --epochs "$epochs"
                    --data-dir "$DATA_DIR" --hook "$hook" --powersgd-rank "$rank" --powersgd-start "$POWERSGD_START"
                    --target "$TARGET" --master-addr 10.213.0.2 --master-port "$DDP_PORT")
    [[ -z "$DDP_STOP" ]] || flags+=(--stop-at-target)
    begin_measure
    ip netns exec "${NS}host1" env GLOO_SOCKET_IFNAME=eth0 timeout -k 5 "$limit" "$PYTHON" "${flags[@]}" --rank 0 \
        > "$OUT/$name.json" 2> "$OUT/$name.rank0.err" &
    first=$!
    ip netns exec "${NS}host2" env GLOO_SOCKET_IFNAME=eth0 timeout -k 5 "$limit" "$PYTHON" "${flags[@]}" --rank 1 \
        > "$OUT/$name.rank1.log" 2> "$OUT/$name.rank1.err" &
    second=$!
    wait "$first" || failed=1
    wait "$second" || failed=1
    (( failed == 0 )) || fail_run "$name" "$limit"
    end_measure "$name"
}

# The run list, for the report: "name link model kind spec round epochs flags" per line, tab-separated (flags:
# the server's run flags, or the DDP hook).
: > "$OUT/runs.tsv"
declare -A PROBE_MB=([plain]=2000 [1gbit]=200 [100mbit]=25)
echo "$(cut -d ' ' -f 1-3 /proc/loadavg)" > "$OUT/loadavg.before"
for round in $(seq 1 "$ROUNDS"); do
    for link in $LINKS; do
        shape "$link"
        if (( round == 1 )); then echo "== link $link"; probe "$link" "${PROBE_MB[$link]}"; fi
        # This round's configurations, alternating trainer and DDP runs; reversed in even rounds.
        plan=() mlp=($(on_link RUNS "$link")) ddp=($(on_link DDP_RUNS "$link")) index=0
        while (( index < ${#mlp[@]} || index < ${#ddp[@]} )); do
            (( index < ${#mlp[@]} )) && plan+=("trainer mlp ${mlp[index]}")
            (( index < ${#ddp[@]} )) && plan+=("ddp mlp ${ddp[index]}")
            index=$(( index + 1 ))
        done
        for spec in $(on_link CNN_RUNS "$link"); do plan+=("trainer cnn $spec"); done
        if (( round % 2 == 0 )); then
            reversed=(); for (( index = ${#plan[@]} - 1; index >= 0; index-- )); do reversed+=("${plan[index]}"); done
            plan=("${reversed[@]}")
        fi
        for entry in "${plan[@]}"; do
            read -r kind model spec <<< "$entry"
            epochs=$(on_link EPOCHS "$link"); [[ $model == cnn ]] && epochs=$(on_link CNN_EPOCHS "$link")
            name="$link-$model-$kind-$(echo "$spec" | tr ':=' '_-')-r$round"
            echo "== round $round/$ROUNDS: $link, $model, $kind $spec ($epochs epochs)"
            if [[ $kind == trainer ]]; then run_cluster "$name" "$model" "$spec" "$epochs"; else run_ddp "$name" "$spec" "$epochs"; fi
            flags=$spec; if [[ $kind == trainer ]]; then run_flags "$spec"; flags="${FLAGS[*]}"; fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$link" "$model" "$kind" "$spec" "$round" "$epochs" "$flags" >> "$OUT/runs.tsv"
            echo "   $(cat "$OUT/$name.bytes" | awk '{printf "%.1f MB sent by all hosts", ($2 + $4 + $6) / 1e6}'), $(awk '{printf "%.1f s", $3}' "$OUT/$name.load")"
        done
    done
done
echo "$(cut -d ' ' -f 1-3 /proc/loadavg)" > "$OUT/loadavg.after"

export BENCH_OUT="$OUT" BENCH_DOC="$DOC" BENCH_TARGET="$TARGET" BENCH_LINKS="$LINKS" BENCH_LATENCY="$LATENCY" BENCH_ROUNDS="$ROUNDS"
export BENCH_POWERSGD_START="$POWERSGD_START" BENCH_POWERSGD_RANK="$POWERSGD_RANK" BENCH_DDP_STOP="$DDP_STOP" BENCH_NO_DOC="${NO_DOC:-}"
export BENCH_CLK_TCK=$(getconf CLK_TCK) BENCH_NPROC=$(nproc)
export BENCH_CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
export BENCH_KERNEL="$(uname -r)"
export BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
export BENCH_CORETYPE=${OPENBLAS_CORETYPE-unset}
export BENCH_SWIFT=$(swift --version 2>&1 | sed -n 's/.*Swift version \([^ ]*\).*/\1/p' | head -n 1)
if (( need_ddp )); then export BENCH_TORCH=$("$PYTHON" -c "import torch; print(torch.__version__)"); fi
if [[ "$(git rev-parse --show-toplevel 2>/dev/null)" == "$PWD" ]]; then
    DEFAULT_COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources Package.swift || echo ' with uncommitted changes to Sources/ or Package.swift')"
fi
export BENCH_COMMIT=${COMMIT:-${DEFAULT_COMMIT:-unknown}}
command="LINKS=\"$LINKS\" ROUNDS=$ROUNDS"
for var in RUNS CNN_RUNS DDP_RUNS EPOCHS CNN_EPOCHS; do
    command+=" $var=\"${!var}\""
    for link in $LINKS; do
        specific="${var}_$link"; [[ -z "${!specific+set}" ]] || command+=" $specific=\"${!specific}\""
    done
done
export BENCH_COMMAND="$command Benchmarks/netns_matrix.sh"

# The settings, for re-running the report on kept files.
export -p | grep ' BENCH_' | sed 's/^declare -x //' > "$OUT/report.env"
if [[ -n "${KEEP:-}" ]]; then
    mkdir -p "$KEEP" && cp -r "$OUT"/. "$KEEP"/ && echo "== kept the runs' files in $KEEP (report again:" \
        "set -a; source $KEEP/report.env; BENCH_OUT=$KEEP BENCH_NO_DOC= $PYTHON Benchmarks/netns_matrix_report.py)"
fi
"$PYTHON" Benchmarks/netns_matrix_report.py
