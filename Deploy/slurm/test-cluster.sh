#!/bin/bash
# A real single-node Slurm for tests (Tests/TrainerTests/SlurmTests.swift), all of it inside one folder:
#
#   Deploy/slurm/test-cluster.sh install     installs Debian's slurm-wlm and munge if they are missing (.ci/run)
#   Deploy/slurm/test-cluster.sh start DIR   installs them if missing, writes a munge key and a slurm.conf into
#                                            DIR, starts munged, slurmctld and slurmd on this host as one node,
#                                            and waits until the node is idle
#   Deploy/slurm/test-cluster.sh stop DIR    stops the daemons that `start` recorded in DIR/pids, by pid
#
# With SLURM_CONF=DIR/slurm.conf in their environment, sbatch, squeue, scontrol and scancel talk to it.
# Needs root (the daemons run as root; nothing under /etc is changed). Prints why and exits 2 when it
# cannot start, so a test can skip with that reason; exits 1 on any other failure.
set -euo pipefail

usage() { echo "usage: $0 install | start DIR | stop DIR" >&2; exit 1; }
[ $# -ge 1 ] || usage
action=$1
dir=${2:-}
[ "$action" = install ] || [ -n "$dir" ] || usage

stop() {
    [ -f "$dir/pids" ] || return 0
    local pid
    while read -r pid; do
        kill -TERM "$pid" 2>/dev/null || true
    done <"$dir/pids"
    # Bounded: 100 × 0.1 s, then SIGKILL for whatever is left.
    for _ in $(seq 100); do
        local alive=0
        while read -r pid; do
            if kill -0 "$pid" 2>/dev/null; then alive=1; fi
        done <"$dir/pids"
        [ "$alive" -eq 0 ] && break
        sleep 0.1
    done
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$dir/pids"
    rm -f "$dir/pids"
}

install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "test-cluster: cannot start Slurm: needs root (slurmd runs jobs as their users), running as $(id -un)" >&2
        exit 2
    fi
    local tool
    for tool in slurmctld slurmd munged sbatch; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "test-cluster: installing slurm-wlm and munge"
            export DEBIAN_FRONTEND=noninteractive
            if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null; }; then
                echo "test-cluster: cannot start Slurm: apt-get install slurm-wlm munge failed" >&2
                exit 2
            fi
            return 0
        fi
    done
}

# Runs a daemon in the background with only stdin, stdout and stderr open: a descriptor inherited from the
# caller (a test runner's pipe, say) held open by a daemon would keep the caller waiting for this script.
detached() {
    (
        for fd in /proc/$BASHPID/fd/*; do
            n=${fd##*/}
            if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi
        done
        exec "$@"
    ) </dev/null &
}

case "$action" in
install)
    install
    echo "test-cluster: slurm-wlm and munge present"
    exit 0
    ;;
stop)
    stop
    echo "test-cluster: stopped"
    exit 0
    ;;
start) install ;;
*) usage ;;
esac

mkdir -p "$dir"/{state,spool,log,munge}
dir=$(cd "$dir" && pwd)
host=$(hostname -s)
cpus=$(nproc)
port=${SLURM_TEST_PORT:-16817}

# munged refuses a key that others can read; 1024 random bytes as Debian's create-munge-key writes.
chown root:root "$dir/munge"
chmod 0711 "$dir/munge"
head -c 1024 /dev/urandom >"$dir/munge/munge.key"
chmod 0400 "$dir/munge/munge.key"
socket="$dir/munge/munge.socket"

cat >"$dir/slurm.conf" <<EOF
ClusterName=trainer-test
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MinJobAge=600
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"

: >"$dir/pids"
detached munged --foreground --force --key-file="$dir/munge/munge.key" --socket="$socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" >>"$dir/log/munged.out" 2>&1
echo $! >>"$dir/pids"
for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.1; done
if [ ! -S "$socket" ]; then
    stop
    echo "test-cluster: cannot start Slurm: munged did not start: $(tail -n 3 "$dir/log/munged.log" 2>/dev/null)" >&2
    exit 2
fi

detached slurmctld -D -i -f "$SLURM_CONF" >>"$dir/log/slurmctld.out" 2>&1
echo $! >>"$dir/pids"
detached slurmd -D -f "$SLURM_CONF" >>"$dir/log/slurmd.out" 2>&1
echo $! >>"$dir/pids"

# Bounded: 300 × 0.1 s for the node to report idle.
for _ in $(seq 300); do
    if [ "$(sinfo --noheader --nodes="$host" --format=%t 2>/dev/null)" = "idle" ]; then
        echo "test-cluster: node $host idle with $cpus CPUs; SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.1
done
stop
echo "test-cluster: cannot start Slurm: node $host not idle within 30 s: $(tail -n 5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" 2>/dev/null)" >&2
exit 2
