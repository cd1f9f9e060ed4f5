#!/bin/sh
# Builds the libFuzzer targets (Fuzz/Package.swift, outside the main build and CI) with coverage
# instrumentation and AddressSanitizer, then runs each for SECONDS seconds (default 60) on a copy
# of its seed corpus in Fuzz/.work/. A crashing input is saved as Fuzz/.work/crashes/TARGET-*.
# The last lines of each run's log (executions, coverage, corpus) are printed as a summary.
# Leak checking is off: at exit LeakSanitizer reports one 4096-byte block that Foundation's own
# file reading (FileManager.contents, Data(contentsOf:)) allocated once, in every target that reads a file.
set -eu
seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
# ld.gold cannot link these (it stops with "internal error in format_file_lineno"); lld can.
build="swift build -c release --scratch-path $here/.build --toolset $here/toolset.json -Xswiftc -sanitize=fuzzer,address"
$build
bin=$($build --show-bin-path)
export ASAN_OPTIONS=detect_leaks=0
mkdir -p .work/crashes
status=0
for corpus in Corpus/*; do
    name=$(basename "$corpus")
    rm -rf ".work/$name" && cp -r "$corpus" ".work/$name"
    echo "== Fuzz$name for $seconds s"
    if "$bin/Fuzz$name" ".work/$name" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 \
        -artifact_prefix=".work/crashes/$name-" > ".work/$name.log" 2>&1; then
        result=ok
    else
        result="CRASH (see .work/$name.log and .work/crashes/)"
        status=1
    fi
    grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)" ".work/$name.log" | tr '\n' ' '
    grep -oE "cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*" ".work/$name.log" | tail -1
    echo "   $result"
done
exit $status
