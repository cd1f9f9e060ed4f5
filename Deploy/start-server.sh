#!/bin/sh
# Starts `trainer server`, resuming from its state file when one is there, so that a restarted
# container, pod, service or batch job continues the run instead of starting it again over the
# state it wrote.
#
#   start-server.sh STATE_FILE [trainer server flags…]
#
# No state file (or an empty one): trainer server --state-file STATE_FILE FLAGS…
# A state file:                    trainer server --resume STATE_FILE FLAGS…
#   (a resumed server takes the model, data set, hyper-parameters, mode and --workers from the
#   state file; --data-dir, --metrics, --checkpoint, --threads and the timeouts from FLAGS.)
# A finished run's state file makes the server say so and exit 0: remove it to start a new run.
# $TRAINER names the trainer executable (default: trainer, from PATH). $STALENESS, when set and not
# empty, adds --staleness $STALENESS to a new run (for --mode ssp; a resumed run keeps its own);
# $COMPRESS and $COMPRESS_WEIGHTS likewise add --compress and --compress-weights (none, bf16, fp16,
# topk:FRACTION: the codecs of pushes and of weights; a resumed run keeps its own);
# likewise $SYNC_EVERY, $OUTER_LR and $OUTER_MOMENTUM add --sync-every, --outer-lr and
# --outer-momentum (for --mode local-sgd); $OVERLAP set to 1 or true adds --overlap (pushes in parts
# during backward; empty, 0 or false: off).
# Server shards: $SHARDS, when set and not empty, adds --shards $SHARDS (every shard's address as the
# workers reach it, comma-separated, shard 1 first) and $SHARD adds --shard $SHARD (this server's
# number in that list, from 1), to a new run and to a resumed one alike: a shard's state file
# resumes only with its own --shard, and --shards is checked against the saved list. Shards 2… take
# no --metrics, --checkpoint or --plot (trainer refuses them there: shard 1 writes them).
set -eu
if [ $# -lt 1 ]; then
    echo "usage: start-server.sh STATE_FILE [trainer server flags…]" >&2
    exit 2
fi
state=$1
shift
trainer=${TRAINER:-trainer}
if [ -n "${SHARDS:-}" ]; then
    set -- "$@" --shards "$SHARDS"
fi
if [ -n "${SHARD:-}" ]; then
    set -- "$@" --shard "$SHARD"
fi
if [ -s "$state" ]; then
    echo "start-server: resuming from $state"
    exec "$trainer" server --resume "$state" "$@"
fi
if [ -n "${STALENESS:-}" ]; then
    set -- "$@" --staleness "$STALENESS"
fi
if [ -n "${COMPRESS:-}" ]; then
    set -- "$@" --compress "$COMPRESS"
fi
if [ -n "${COMPRESS_WEIGHTS:-}" ]; then
    set -- "$@" --compress-weights "$COMPRESS_WEIGHTS"
fi
if [ -n "${SYNC_EVERY:-}" ]; then
    set -- "$@" --sync-every "$SYNC_EVERY"
fi
if [ -n "${OUTER_LR:-}" ]; then
    set -- "$@" --outer-lr "$OUTER_LR"
fi
if [ -n "${OUTER_MOMENTUM:-}" ]; then
    set -- "$@" --outer-momentum "$OUTER_MOMENTUM"
fi
case "${OVERLAP:-}" in
    "" | 0 | false) ;;
    1 | true) set -- "$@" --overlap ;;
    *)
        echo "start-server: OVERLAP is '$OVERLAP'; give 1 or true (pushes in parts during backward), or 0, false or nothing" >&2
        exit 2
        ;;
esac
exec "$trainer" server --state-file "$state" "$@"
