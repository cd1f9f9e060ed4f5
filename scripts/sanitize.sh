#!/usr/bin/env bash
# Runs the test suite, or the tests FILTER matches (a `swift test --filter` regular expression),
# under ThreadSanitizer or AddressSanitizer, built in a scratch path of its own (.build-tsan,
# .build-asan) so the normal .build stays as it is. The `trainer` processes some tests start are
# built with the same sanitizer and report into the same folder.
#
#   scripts/sanitize.sh thread|address [FILTER]
#
# TRAINER_TEST_SLOWDOWN (default 8 under thread, 3 under address) stretches the tests' own bounds on
# waiting for a trainer process (TestSlowdown in Tests/TestSupport); the code's own timeouts are not
# stretched. scripts/tsan.supp names the reports suppressed, each in code outside this project.
# SANITIZE_SKIP=REGEX leaves out the tests it matches (the address-space-limited runs cannot take
# AddressSanitizer's shadow memory). SANITIZE_WIDTH=N runs at most N tests at once (swift-testing's
# SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH; default: no limit). SANITIZE_CONFIGURATION=debug|release (default release: the sanitizer's 5-10x slowdown on top of
# -Onone makes the cluster tests crawl on 2 cores). TRAINER_DATA_DIR is passed on (default
# /work/shared/data when it exists). Each process writes its reports to
# .build-<tsan|asan>/reports/<sanitizer>.<pid>; the script prints the tests run, the failures, the
# report count with each report's first frames, and the time, and exits non-zero on a failed test
# or any report. Not part of CI.
set -uo pipefail
cd "$(dirname "$0")/.."
sanitizer=${1:-}
filter=${2:-}
case "$sanitizer" in
    thread) scratch=.build-tsan; short=tsan; slowdown=8 ;;
    address) scratch=.build-asan; short=asan; slowdown=3 ;;
    *) echo "usage: scripts/sanitize.sh thread|address [FILTER]" >&2; exit 2 ;;
esac
configuration=${SANITIZE_CONFIGURATION:-release}
case "$configuration" in
    debug) testing=() ;;
    release) testing=(-Xswiftc -enable-testing) ;;
    *) echo "sanitize.sh: SANITIZE_CONFIGURATION must be debug or release, not $configuration" >&2; exit 2 ;;
esac
if [ -z "${TRAINER_DATA_DIR:-}" ] && [ -d /work/shared/data ]; then export TRAINER_DATA_DIR=/work/shared/data; fi
reports="$PWD/$scratch/reports"
start=$(date +%s)
mkdir -p "$scratch"
echo "sanitize.sh: building with --sanitize=$sanitizer (-c $configuration) in $scratch"
if ! swift build -c "$configuration" "${testing[@]}" --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" \
        >"$scratch/build.log" 2>&1; then
    grep -E "error:" "$scratch/build.log" | head -20
    echo "sanitize.sh: the build failed; see $scratch/build.log" >&2
    exit 1
fi
built=$(date +%s)
rm -rf "$reports" && mkdir -p "$reports"
# Reports are collected, not fatal, so one run finds them all; TSan also names each race's second stack.
export TSAN_OPTIONS="log_path=$reports/tsan halt_on_error=0 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp ${TSAN_OPTIONS:-}"
export TRAINER_TEST_SLOWDOWN=${TRAINER_TEST_SLOWDOWN:-$slowdown}
# Leak checking is off: what it finds are the test runner's and argument parser's objects alive at exit.
export ASAN_OPTIONS="log_path=$reports/asan halt_on_error=0 detect_leaks=0 suppressions=$PWD/scripts/asan.supp ${ASAN_OPTIONS:-}"
log="$scratch/test.log"
if [ -n "${SANITIZE_WIDTH:-}" ]; then export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$SANITIZE_WIDTH; fi
arguments=(-c "$configuration" "${testing[@]}" --skip-build --sanitize="$sanitizer" --scratch-path "$scratch")
[ -n "$filter" ] && arguments+=(--filter "$filter")
[ -n "${SANITIZE_SKIP:-}" ] && arguments+=(--skip "$SANITIZE_SKIP")
echo "sanitize.sh: running swift test ${filter:+--filter '$filter'} (log: $log)"
swift test "${arguments[@]}" >"$log" 2>&1
status=$?
end=$(date +%s)
passed=$(grep -cE "Test .* passed after" "$log")
failed=$(grep -cE "Test .* failed after" "$log")
count=$(cat "$reports"/* 2>/dev/null | grep -cE "^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: (Address|Leak)Sanitizer)")
echo "sanitize.sh: $passed tests passed, $failed failed (swift test exit $status); $count $short reports;" \
    "build $((built - start)) s, tests $((end - built)) s"
grep -E "Test .* failed after|recorded an issue" "$log" | head -40
for file in "$reports"/*; do
    [ -e "$file" ] || continue
    echo "--- $file"
    grep -E "^(WARNING|SUMMARY|==[0-9]+==ERROR)|^    #[0-3] " "$file" | head -60
done
[ "$status" -eq 0 ] && [ "$count" -eq 0 ]
