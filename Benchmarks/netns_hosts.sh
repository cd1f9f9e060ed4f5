# Shared by Benchmarks/netns.sh, Benchmarks/netns_matrix.sh and Benchmarks/shards.sh (sourced, as root, from the
# project root): network namespaces as hosts on one bridge (three unless NETNS_HOSTS says how many), link shaping,
# and a raw TCP probe.
#
# Sourcing sets PREFIX, NS (this script's namespace prefix, trainer-bench-PID-), SERVER_ADDRESS, LATENCY,
# PROBE_LIMIT and OUT (a fresh temporary folder), removes leftovers of runs whose process is gone, and sets an
# EXIT trap that kills what runs in this script's namespaces, deletes them and removes OUT. Needs PYTHON.
#   make_hosts        host0 … host(NETNS_HOSTS-1) (default 3 hosts: host0, host1, host2; host N has 10.213.0.N+1/24
#                     on eth0, MTU 1500), each joined by a veth pair to br0 in ${NS}bridge (its end portN), so the
#                     root namespace's network is untouched
#   shape LINK        plain (no qdisc), 1gbit or 100mbit (tbf on both ends of every link); the tc commands
#                     go to $OUT/LINK.tc
#   probe LINK MB     a raw TCP transfer host1 → host0, its goodput in Mbit/s to $OUT/LINK.probe
#   fail_run NAME LIMIT  stops the script on a failed run, with the tails of $OUT/NAME.*
#   counters HOST     "<rx bytes> <tx bytes>" of HOST's eth0 (the kernel's counters: Ethernet frames
#                     without the FCS, as the veth sees them)

PREFIX=trainer-bench-
NS=$PREFIX$$-
SERVER_ADDRESS=10.213.0.1
LATENCY=50ms
PROBE_LIMIT=60
NETNS_HOSTS=${NETNS_HOSTS:-3}
if ! [[ $NETNS_HOSTS =~ ^[0-9]+$ ]] || (( NETNS_HOSTS < 2 || NETNS_HOSTS > 200 )); then
    echo "error: NETNS_HOSTS is '$NETNS_HOSTS': give 2 to 200 hosts" >&2; exit 1
fi

# Kills what runs in a namespace (ip netns del would not) and deletes it.
remove_namespace() {  # name
    local pid
    for pid in $(ip netns pids "$1" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$1" 2>/dev/null || true
}
namespaces() { ip netns list | awk '{print $1}'; }

OUT=$(mktemp -d)
cleanup() {
    local ns
    for ns in $(namespaces | grep "^$NS" || true); do remove_namespace "$ns"; done
    rm -rf "$OUT"
}
trap cleanup EXIT

for ns in $(namespaces | grep "^$PREFIX" || true); do
    owner=${ns#"$PREFIX"}; owner=${owner%%-*}
    if ! kill -0 "$owner" 2>/dev/null; then echo "== removing $ns, left by process $owner"; remove_namespace "$ns"; fi
done

# Makes the bridge and the NETNS_HOSTS hosts.
make_hosts() {
    local host
    echo "== making namespaces ${NS}bridge, ${NS}host0..$(( NETNS_HOSTS - 1 ))"
    ip netns add "${NS}bridge"
    ip -n "${NS}bridge" link add br0 type bridge
    ip -n "${NS}bridge" link set br0 up
    for host in $(seq 0 $(( NETNS_HOSTS - 1 ))); do
        ip netns add "${NS}host$host"
        ip -n "${NS}bridge" link add "port$host" type veth peer name eth0 netns "${NS}host$host"
        ip -n "${NS}bridge" link set "port$host" master br0 up
        ip -n "${NS}host$host" addr add "10.213.0.$(( host + 1 ))/24" dev eth0
        ip -n "${NS}host$host" link set eth0 up
        ip -n "${NS}host$host" link set lo up
    done
}

# Sets every link's qdisc (both ends) for a link setting and prints the commands to $OUT/LINK.tc.
shape() {  # link
    local link=$1 rate="" burst="" host place namespace device
    case $link in
        1gbit) rate=1gbit burst=125000 ;;
        100mbit) rate=100mbit burst=12500 ;;
    esac
    : > "$OUT/$link.tc"
    for host in $(seq 0 $(( NETNS_HOSTS - 1 ))); do
        for place in "${NS}host$host eth0" "${NS}bridge port$host"; do
            read -r namespace device <<< "$place"
            tc -n "$namespace" qdisc del dev "$device" root 2>/dev/null || true
            if [[ -n "$rate" ]]; then
                tc -n "$namespace" qdisc replace dev "$device" root tbf rate "$rate" burst "$burst" latency "$LATENCY"
                echo "tc -n $namespace qdisc replace dev $device root tbf rate $rate burst $burst latency $LATENCY" >> "$OUT/$link.tc"
            fi
        done
    done
}

# A raw TCP transfer of MEGABYTES from host1 to host0, its goodput in Mbit/s written to $OUT/LINK.probe.
cat > "$OUT/probe.py" <<'EOF'
import socket, sys, time
if sys.argv[1] == "receive":
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", 7000))
    listener.listen(1)
    print("ready", flush=True)
    connection, _ = listener.accept()
    received, start = 0, time.perf_counter()
    while chunk := connection.recv(1 << 20):
        received += len(chunk)
    print(f"{received * 8 / (time.perf_counter() - start) / 1e6:.1f}")
else:
    connection = socket.create_connection((sys.argv[2], 7000))
    block = b"\0" * (1 << 20)
    for _ in range(int(sys.argv[3])):
        connection.sendall(block)
    connection.close()
EOF
probe() {  # link megabytes
    ip netns exec "${NS}host0" timeout "$PROBE_LIMIT" "$PYTHON" "$OUT/probe.py" receive > "$OUT/$1.probe" &
    local receiver=$! tries=0
    until grep -q ready "$OUT/$1.probe" 2>/dev/null; do
        sleep 0.1; tries=$(( tries + 1 ))
        if (( tries > 100 )); then echo "error: the probe receiver in ${NS}host0 did not start" >&2; exit 1; fi
    done
    ip netns exec "${NS}host1" timeout "$PROBE_LIMIT" "$PYTHON" "$OUT/probe.py" send "$SERVER_ADDRESS" "$2"
    wait "$receiver"
    echo "   raw TCP host1 → host0, $2 MB: $(tail -n 1 "$OUT/$1.probe") Mbit/s"
}

# The receive and transmit byte counters of a host's eth0.
counters() {  # host
    echo "$(ip netns exec "${NS}host$1" cat /sys/class/net/eth0/statistics/rx_bytes) $(ip netns exec "${NS}host$1" cat /sys/class/net/eth0/statistics/tx_bytes)"
}

# Stops on a failed run with the tails of its files.
fail_run() {  # name limit
    local file
    for file in "$OUT/$1".*; do echo "--- $file" >&2; tail -n 15 "$file" >&2; done
    echo "error: the run $1 failed (a process exited non-zero or hit the $2 s limit)" >&2
    exit 1
}
