# Shared by the benchmark scripts (sourced): the CPU time counters that tell a run's own load from
# other processes'. All in clock ticks from /proc.

# All CPUs busy (user nice system irq softirq).
cpu_busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
# Time the hypervisor gave to others (steal).
cpu_steal() { awk '/^cpu /{print $9}' /proc/stat; }
# This shell's waited-for children (user + sys). Busy minus this over a run is what other processes took.
own_cpu() { awk '{print $16 + $17}' "/proc/$$/stat"; }
