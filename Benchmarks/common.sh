# Shared by the benchmark scripts (sourced): the CPU time counters that tell a run's own load from
# other processes'. All in clock ticks from /proc.

# All CPUs busy (user nice system irq softirq).
cpu_busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
# Time the hypervisor gave to others (steal).
cpu_steal() { awk '/^cpu /{print $9}' /proc/stat; }
# This shell's waited-for children (user + sys). Busy minus this over a run is what other processes took.
own_cpu() { awk '{print $16 + $17}' "/proc/$$/stat"; }

# Runs a command and writes "<other processes' ticks> <steal ticks> <wall seconds>" to $OUT/NAME.load
# (benchmarks_doc.other_load turns it into the share of the machine others took meanwhile).
measured() {  # NAME command...
    local name=$1; shift
    local busy0 steal0 own0 start
    busy0=$(cpu_busy) steal0=$(cpu_steal) own0=$(own_cpu) start=$(date +%s.%N)
    "$@"
    echo "$(( $(cpu_busy) - busy0 - ($(own_cpu) - own0) )) $(( $(cpu_steal) - steal0 ))" \
         "$(echo "$(date +%s.%N) - $start" | bc)" > "$OUT/$name.load"
}

# Compiles Benchmarks/TOOL/main.swift (EngineProfile, SineCheck) against the release Engine and Datasets
# objects of SCRATCH (built by a `swift build -c release` there) into DESTINATION; they are not package
# products, so the package's build stays as it is.
build_engine_tool() {  # TOOL SCRATCH DESTINATION
    local bin
    bin=$(swift build -c release --scratch-path "$2" --show-bin-path)
    swiftc -O -wmo -module-name "$1" -I "$bin/Modules" -I Sources/CBLAS -I Sources/CZlib -I Sources/CSodium \
        "Benchmarks/$1/main.swift" "$bin"/Engine.build/*.o "$bin"/Datasets.build/*.o -lopenblas -lz -lsodium -o "$3"
}

# This CPU is newer than Debian's OpenBLAS 0.3.21, which falls back to its slow Prescott kernel unless
# told the core type; PLATFORM.md's machines set Haswell, so the benchmarks do when nothing is set.
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
