#!/usr/bin/env bash
# Where a training step of the tutorial's CNN (or MLP) spends its time: Benchmarks/EngineProfile per
# layer by wall clock, and (CALLGRIND=1) the same steps under valgrind's callgrind, whose instruction
# counts do not depend on what else the machine is doing.
#
# Builds the release Engine and Datasets with SwiftPM, then compiles EngineProfile against their
# objects with swiftc (it is not a package product, so the package's build stays as it is).
#
#   Benchmarks/profile_engine.sh                       # cnn, 20 steps, batch 64, 2 threads
#   MODEL=mlp STEPS=200 Benchmarks/profile_engine.sh
#   CALLGRIND=1 STEPS=5 Benchmarks/profile_engine.sh   # then: callgrind_annotate $OUT/callgrind.out
#   INFERENCE=1 BATCH=1000 Benchmarks/profile_engine.sh
set -euo pipefail

cd "$(dirname "$0")/.."
MODEL=${MODEL:-cnn}
STEPS=${STEPS:-20}
BATCH=${BATCH:-64}
THREADS=${THREADS:-2}
SCRATCH=${SCRATCH:-.build-bench}
DATA_DIR=$(realpath "${DATA_DIR:-${TRAINER_DATA_DIR:-../shared/data}}")
OUT=${OUT:-$SCRATCH/profile}
mkdir -p "$OUT"

source Benchmarks/common.sh
swift build -c release --product trainer --scratch-path "$SCRATCH" > "$OUT/build.log" 2>&1 || { cat "$OUT/build.log" >&2; exit 1; }
build_engine_tool EngineProfile "$SCRATCH" "$OUT/EngineProfile" 2> "$OUT/swiftc.log" || { cat "$OUT/swiftc.log" >&2; exit 1; }

FLAGS=(--model "$MODEL" --steps "$STEPS" --batch "$BATCH" --threads "$THREADS" --data-dir "$DATA_DIR")
[[ -n "${INFERENCE:-}" ]] && FLAGS+=(--inference)
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n "${CALLGRIND:-}" ]]; then
    valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" --collect-atstart=no \
        --toggle-collect='*profiledSteps*' "$OUT/EngineProfile" "${FLAGS[@]}" --warmup 1 --synthetic
    callgrind_annotate --inclusive=no "$OUT/callgrind.out" 2> /dev/null | head -40
else
    "$OUT/EngineProfile" "${FLAGS[@]}"
fi
