"""The summary of Benchmarks/netns_matrix.sh: per link and model, each trainer run and each DDP run's samples/s,
bytes on the wire per training sample and training time to the target accuracy, the issue's targets at
1 Gbit/s judged, written as a section of docs/benchmarks.md. Run by the script (from the project root) with its
settings in BENCH_* environment variables and its files in BENCH_OUT; with ALSO (folders kept by earlier runs of
the script with KEEP), their runs join the summary, each listed with its own command, date and load."""

import json
import os
import statistics
import sys

sys.path.insert(0, "Benchmarks")
from benchmarks_doc import DISTURBED, other_load, write_section  # noqa: E402

env = os.environ
out, doc = env["BENCH_OUT"], env["BENCH_DOC"]
target = float(env["BENCH_TARGET"])
tick, ncpu = int(env["BENCH_CLK_TCK"]), int(env["BENCH_NPROC"])
folders = [out] + env.get("ALSO", "").split()


def settings(folder):
    """The BENCH_* settings a run of the script recorded in FOLDER/report.env (the current run: the environment)."""
    if folder == out:
        return env
    found = {}
    for line in open(f"{folder}/report.env"):
        key, _, value = line.rstrip("\n").partition("=")
        found[key] = value[1:-1].replace('\\"', '"') if value.startswith('"') else value
    return found


ORDER = ["plain", "1gbit", "100mbit"]
links = sorted({l for f in folders for l in settings(f)["BENCH_LINKS"].split()}, key=ORDER.index)
LINK_NAMES = {"plain": "plain (no qdisc)", "1gbit": "tbf 1 Gbit/s", "100mbit": "tbf 100 Mbit/s"}
MODEL_NAMES = {"mlp": "MNIST MLP (784-128-64-10, 109,386 parameters)",
               "cnn": "CIFAR-10 CNN (conv 3→32, conv 32→64, fc 4096→512, fc 512→10; 2,122,186 parameters)"}
HOOK_NAMES = {"none": "no hook", "fp16": "fp16_compress_hook", "bf16": "bf16_compress_hook", "powersgd": "PowerSGD"}
TARGET_LINK = "1gbit"


def steal_share(path):
    """The share of the machine the hypervisor gave to others (steal) during one run."""
    _, steal, wall = open(path).read().split()
    return int(steal) / tick / (float(wall) * ncpu)


def read_runs():
    runs = []
    for folder in folders:
        for line in open(f"{folder}/runs.tsv"):
            name, link, model, kind, spec, round_, epochs, flags = line.rstrip("\n").split("\t")
            runs.append(dict(name=name, link=link, model=model, kind=kind, spec=spec, round=int(round_),
                             epochs=int(epochs), flags=flags, dir=folder))
    return runs


def measure(run):
    """Per-epoch rates, accuracies, seconds and samples of one run, its bytes and the load beside it."""
    name, out = run["name"], run["dir"]
    if run["kind"] == "trainer":
        events = [json.loads(line) for line in open(f"{out}/{name}.jsonl")]
        epochs = [e for e in events if e.get("event") == "epoch"]
        rates = [e["samples_per_second"] for e in epochs]
        seconds = [e["seconds"] for e in epochs]
        accuracy = [e["test_accuracy"] for e in epochs]
        samples = sum(r * s for r, s in zip(rates, seconds))
    else:
        result = json.loads(open(f"{out}/{name}.json").read().strip().splitlines()[-1])
        rates, seconds = result["samples_per_second"], result["epoch_seconds"]
        accuracy = result["test_accuracy_per_epoch"]
        samples = result["samples_per_epoch"] * len(seconds)
        run["torch"] = result["torch"]
    rx0, tx0, rx1, tx1, rx2, tx2 = map(int, open(f"{out}/{name}.bytes").read().split())
    sent = tx0 + tx1 + tx2
    reached = next((i for i, a in enumerate(accuracy) if a is not None and a >= target), None)
    run.update(rates=rates, accuracy=accuracy, samples=samples, sent=sent, server_link=rx0 + tx0,
               bytes_per_sample=sent / samples if samples else float("nan"),
               target_epoch=None if reached is None else reached + 1,
               target_seconds=None if reached is None else sum(seconds[:reached + 1]),
               load=other_load(f"{out}/{name}.load", tick, ncpu), steal=steal_share(f"{out}/{name}.load"),
               wall=float(open(f"{out}/{name}.load").read().split()[2]))
    return run


runs = [measure(r) for r in read_runs()]
configs = []
for r in runs:
    key = (r["link"], r["model"], r["kind"], r["spec"])
    if key not in configs:
        configs.append(key)


def summary(key):
    """Pooled over rounds: the median rate of the epochs after the first, the median bytes per sample, the
    median time to the target (None unless every round reached it), the median final accuracy."""
    same = [r for r in runs if (r["link"], r["model"], r["kind"], r["spec"]) == key]
    rates = [x for r in same for x in r["rates"][1:]]
    reached = [r["target_seconds"] for r in same]
    return {
        "runs": same, "rate": statistics.median(rates), "low": min(rates), "high": max(rates), "n": len(rates),
        "bytes": statistics.median(r["bytes_per_sample"] for r in same),
        "target_seconds": statistics.median(reached) if all(x is not None for x in reached) else None,
        "target_epoch": max((r["target_epoch"] for r in same), default=None) if all(x is not None for x in reached) else None,
        "accuracy": statistics.median(r["accuracy"][-1] for r in same),
        "epochs": max(len(r["accuracy"]) for r in same), "configured": same[0]["epochs"], "flags": same[0]["flags"], "load": max(r["load"] for r in same),
    }


S = {key: summary(key) for key in configs}


def is_baseline(key):
    """Uncompressed sync: the trainer run whose flags are only --mode sync."""
    return key[2] == "trainer" and S[key]["flags"] == "--mode sync"


def baseline(link, model):
    return next((k for k in configs if k[0] == link and k[1] == model and is_baseline(k)), None)


def label(key):
    link, model, kind, spec = key
    if kind == "ddp":
        hook, _, rank = spec.partition(":")
        text = HOOK_NAMES[hook]
        if hook == "powersgd":
            text += f" rank {rank or env['BENCH_POWERSGD_RANK']}"
        return f"PyTorch DDP, {text}"
    return f"trainer `{spec}`"


def fmt(x, digits=0):
    return "—" if x is None else f"{x:,.{digits}f}"


def percent_or_share(numerator, denominator):
    return "—" if numerator is None or not denominator else f"{numerator / denominator:.2f}×"


tables = []
for link in links:
    for model in ("mlp", "cnn"):
        keys = [k for k in configs if k[0] == link and k[1] == model]
        if not keys:
            continue
        base = baseline(link, model)
        plain_base = baseline("plain", model)
        rows = [f"#### {LINK_NAMES[link]}, {MODEL_NAMES[model]}", "",
                "| run | server flags / hook | median samples/s | min–max (epochs) | vs this run on plain links "
                f"| vs plain-link sync | bytes per sample | vs sync here | first epoch ≥ {target:.0%} "
                f"| training s to {target:.0%} | vs sync here | test accuracy at the end (epochs) | other load |",
                "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for k in keys:
            s = S[k]
            plain = S.get(("plain",) + k[1:])
            reached = (s["target_epoch"] or f"not in {s['epochs']}") if model == "mlp" else "—"
            rows.append(
                f"| {label(k)} | `{s['flags']}` | {fmt(s['rate'])} | {fmt(s['low'])}–{fmt(s['high'])} ({s['n']}) "
                f"| {percent_or_share(s['rate'], plain['rate'] if plain else None)} "
                f"| {percent_or_share(s['rate'], S[plain_base]['rate'] if plain_base else None)} "
                f"| {fmt(s['bytes'])} | {percent_or_share(s['bytes'], S[base]['bytes'] if base else None)} "
                f"| {reached} "
                f"| {fmt(s['target_seconds'], 1)} "
                f"| {percent_or_share(s['target_seconds'], S[base]['target_seconds'] if base else None)} "
                f"| {100 * s['accuracy']:.2f}% ({s['epochs']}) | {s['load']:.0%} |")
        tables.append("\n".join(rows))


def judge():
    """The issue's four targets at 1 Gbit/s on the MLP, each met or missed with the figures."""
    lines = []
    base, plain_base = baseline(TARGET_LINK, "mlp"), baseline("plain", "mlp")
    ours = [k for k in configs if k[0] == TARGET_LINK and k[1] == "mlp" and k[2] == "trainer"]
    ddp = [k for k in configs if k[0] == TARGET_LINK and k[1] == "mlp" and k[2] == "ddp"]
    if not ours:
        return ["No trainer run on the MLP at 1 Gbit/s: no target judged."]
    met_by = {}

    fastest = max(ours, key=lambda k: S[k]["rate"])
    if plain_base:
        need = 0.7 * S[plain_base]["rate"]
        met_by[1] = {k for k in ours if S[k]["rate"] >= need}
        lines.append(f"- **≥ 0.7× the plain-link samples/s** (plain-link uncompressed sync: {fmt(S[plain_base]['rate'])}, "
                     f"so ≥ {fmt(need)}): {'met' if met_by[1] else 'missed'}; the fastest run at 1 Gbit/s is {label(fastest)} "
                     f"with {fmt(S[fastest]['rate'])} samples/s, {S[fastest]['rate'] / S[plain_base]['rate']:.2f}× "
                     f"(and {S[fastest]['rate'] / S[('plain',) + fastest[1:]]['rate']:.2f}× of its own plain-link figure)."
                     if ("plain",) + fastest[1:] in S else
                     f"- **≥ 0.7× the plain-link samples/s** (plain-link uncompressed sync: {fmt(S[plain_base]['rate'])}): "
                     f"{'met' if met_by[1] else 'missed'}; the fastest run at 1 Gbit/s is {label(fastest)} with "
                     f"{fmt(S[fastest]['rate'])} samples/s, {S[fastest]['rate'] / S[plain_base]['rate']:.2f}×.")
    else:
        lines.append("- ≥ 0.7× the plain-link samples/s: not judged (no plain-link uncompressed sync run).")

    timed = [k for k in ours if S[k]["target_seconds"] is not None]
    quickest = min(timed, key=lambda k: S[k]["target_seconds"]) if timed else None
    if base and S[base]["target_seconds"] is not None:
        need = S[base]["target_seconds"] / 10
        met_by[2] = {k for k in timed if S[k]["target_seconds"] <= need}
        lines.append(f"- **{target:.0%} in ≤ 1/10 of uncompressed sync's time** (sync: {S[base]['target_seconds']:.1f} s, "
                     f"so ≤ {need:.1f} s): {'met' if met_by[2] else 'missed'}; "
                     + (f"the quickest is {label(quickest)} with {S[quickest]['target_seconds']:.1f} s "
                        f"({S[quickest]['target_seconds'] / S[base]['target_seconds']:.2f}× of sync's)." if quickest else
                        "no run reached it."))
    else:
        lines.append(f"- {target:.0%} in ≤ 1/10 of uncompressed sync's time: not judged (uncompressed sync at 1 Gbit/s "
                     f"did not reach {target:.0%} in its epochs, or did not run).")

    ddp_timed = [k for k in ddp if S[k]["target_seconds"] is not None]
    if ddp_timed and quickest:
        best = min(ddp_timed, key=lambda k: S[k]["target_seconds"])
        met_by[3] = {k for k in timed if 2 * S[k]["target_seconds"] <= S[best]["target_seconds"]}
        lines.append(f"- **≥ 2× faster to {target:.0%} than the best DDP variant** (best: {label(best)}, "
                     f"{S[best]['target_seconds']:.1f} s, so ≤ {S[best]['target_seconds'] / 2:.1f} s): "
                     f"{'met' if met_by[3] else 'missed'}; {label(quickest)} took {S[quickest]['target_seconds']:.1f} s, "
                     f"{S[best]['target_seconds'] / S[quickest]['target_seconds']:.2f}× faster.")
    else:
        lines.append(f"- ≥ 2× faster to {target:.0%} than the best DDP variant: not judged "
                     f"({'no DDP run reached it' if ddp else 'no DDP run'}{'' if quickest else '; no trainer run reached it'}).")

    if base:
        need = S[base]["bytes"] / 50
        leanest = min(ours, key=lambda k: S[k]["bytes"])
        met_by[4] = {k for k in ours if S[k]["bytes"] <= need}
        lines.append(f"- **bytes per sample ≤ 1/50 of uncompressed sync** (sync: {fmt(S[base]['bytes'])}, so ≤ {fmt(need)}): "
                     f"{'met' if met_by[4] else 'missed'}; the leanest is {label(leanest)} with {fmt(S[leanest]['bytes'])} "
                     f"({S[base]['bytes'] / S[leanest]['bytes']:.1f}× fewer).")
    else:
        lines.append("- bytes per sample ≤ 1/50 of uncompressed sync: not judged (no uncompressed sync run at 1 Gbit/s).")

    if len(met_by) == 4:
        all_four = set.intersection(*met_by.values())
        lines.append(f"- One run meeting all four: {', '.join(label(k) for k in all_four) if all_four else 'none'}.")
    return lines


def probe(link):
    path = next((f"{f}/{link}.probe" for f in folders if os.path.exists(f"{f}/{link}.probe")), None)
    if path is None:
        return None
    mbits = float(open(path).read().split()[-1])
    return f"{LINK_NAMES[link]} {mbits:,.0f} Mbit/s"


probes = "; ".join(p for p in map(probe, links) if p)
def loads(folder):
    return ", ".join(f"{r['name']} {r['load']:.0%} (steal {r['steal']:.0%})" for r in runs if r["dir"] == folder)



disturbed = [r["name"] for r in runs if r["load"] > DISTURBED]
torch_version = next((r["torch"] for r in runs if "torch" in r), None)
checks = [r for r in runs if r["kind"] == "trainer" and r["server_link"] and abs(r["sent"] / r["server_link"] - 1) > 0.01]
epochs_note = "; ".join(f"{LINK_NAMES[l]}: " + ", ".join(
    sorted({f"{m} {S[k]['configured']}" for k in configs for m in [k[1]] if k[0] == l})) for l in links)


def invocation(folder):
    """Command, date, commit and load of one run of the script."""
    e = settings(folder)
    before, after = (open(f"{folder}/loadavg.{w}").read().strip() for w in ("before", "after"))
    return (f"- Command: `{e['BENCH_COMMAND']}`, as root; {e['BENCH_DATE']}; commit {e['BENCH_COMMIT']}. Load average "
            f"(1, 5, 15 min) {before} before and {after} after; CPU share other processes and steal took during each run "
            f"(the largest of a configuration's rounds is in the tables): {loads(folder)}")



section = f"""## Separate hosts: codecs, local SGD and DDP hooks (issue 12)

`trainer server` in one network namespace and a `trainer worker` in each of two others, and PyTorch
DistributedDataParallel over gloo with rank 0 and rank 1 in the two worker namespaces, on the hosts and links of
the section above (veth pairs to a bridge, MTU 1500; shaped links: tbf on both ends of every link, latency
{env['BENCH_LATENCY']}); one BLAS or torch thread per process, batch 64 per worker or rank (global 128), SGD lr 0.01
momentum 0.9, the same MNIST files. Runs alternate within a round ({env['BENCH_ROUNDS']} round(s); even rounds in
reverse order). Epochs per run: {epochs_note}.

- **samples/s**: the median of every epoch after the first (the server's per-epoch training rate; DDP: rank 0's
  epoch time between two barriers); "vs plain-link sync" divides by uncompressed sync on plain links.
- **bytes per sample**: the bytes all three hosts' `eth0` sent over the whole run (their `tx_bytes`: Ethernet
  frames without the FCS, so TCP/IP/Ethernet headers included; set-up, the first epoch and the last included),
  divided by the samples trained. The veths pass segmentation-offloaded packets of up to 64 KB with one set of
  headers, so the counts are close to the payload: the dense frames of a sync step (two gradients in, two weights
  out, 437,544 bytes each for the MLP) are {4 * 437544 / 128:,.0f} bytes per sample. For the parameter server this is its `eth0`'s rx + tx
  ({'checked: within 1 % for every trainer run' if not checks else 'not within 1 % for ' + ', '.join(r['name'] for r in checks)}); for DDP it is everything the two ranks sent each other.
- **training s to {target:.0%}**: the training seconds summed over the epochs up to the first whose test accuracy
  (10,000 MNIST test images, evaluated after every epoch outside the timed span) reaches {target:.0%}; start-up and
  evaluation are left out on both sides (MLP only: the CNN rows show "—"). {'A DDP run ends after the first epoch from the second on that reaches it (`--stop-at-target`), so its epoch count can be smaller; trainer runs train all their epochs.' if env.get('BENCH_DDP_STOP') else ''}
- PowerSGD: `powerSGD_hook` with `PowerSGDState(matrix_approximation_rank=R, start_powerSGD_iter={env['BENCH_POWERSGD_START']})`
  (vanilla allreduce for the first {env['BENCH_POWERSGD_START']} steps), error feedback and warm start on.

{chr(10).join(t + chr(10) for t in tables)}
### Targets at 1 Gbit/s (MNIST MLP)

{chr(10).join(judge())}

{chr(10).join(invocation(f) for f in folders)}
- Machine: {env['BENCH_CPU']}, `nproc` {ncpu}; kernel {env['BENCH_KERNEL']}; OpenBLAS `OPENBLAS_CORETYPE={env['BENCH_CORETYPE']}`;
  Swift {env['BENCH_SWIFT']}{f'; PyTorch {torch_version}' if torch_version else ''}
- Raw TCP host1 → host0 (Python sockets): {probes}
{f"- Other processes took more than {DISTURBED:.0%} of the machine in {len(disturbed)} of {len(runs)} runs: those figures are pessimistic, and the CPU-bound ones (plain links, compressed runs) most." if disturbed else ""}
"""

print()
print(section)
if env.get("BENCH_NO_DOC"):
    print("(NO_DOC set: docs/benchmarks.md left as it is)")
else:
    write_section(doc, section)
