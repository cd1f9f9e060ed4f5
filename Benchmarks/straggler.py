#!/usr/bin/env python3
"""A straggler: one of 4 workers paused (SIGSTOP, SIGCONT) for PAUSE ms in every PERIOD ms, sync vs
async vs SSP (issue 11, benchmark b).

Runs `trainer server --workers 4` and four `trainer worker --threads 1` processes on this host, for
each mode in turn (alternating, ROUNDS rounds), with worker 0 paused on a fixed schedule from its
first step to the end. Records the server's samples/s per epoch (its training time, without the
evaluation) and the test accuracy after EPOCHS epochs, and writes the medians as the section
"## A straggler: sync, async and SSP, MODEL on DATASET (issue 11)" of docs/benchmarks.md.

    python3 Benchmarks/straggler.py                      # MLP on MNIST, ROUNDS=1 EPOCHS=2
    MODEL=cnn DATASET=cifar10 python3 Benchmarks/straggler.py

Environment: ROUNDS, EPOCHS, MODEL, DATASET, STALENESS (default 3), PAUSE and PERIOD (ms, default 100 and
500), DATA_DIR (default $TRAINER_DATA_DIR, else ../shared/data), TRAINER (default .build/release/trainer,
built first with `swift build -c release`). Four workers and a server on a 2-core machine: run nothing
else meanwhile; the section records the load average before and after.
"""

import json, os, re, signal, statistics, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from benchmarks_doc import write_section

ROUNDS = int(os.environ.get("ROUNDS", "1"))
EPOCHS = int(os.environ.get("EPOCHS", "2"))
MODEL = os.environ.get("MODEL", "mlp")
DATASET = os.environ.get("DATASET", "mnist")
STALENESS = int(os.environ.get("STALENESS", "3"))
PAUSE, PERIOD = int(os.environ.get("PAUSE", "100")) / 1000, int(os.environ.get("PERIOD", "500")) / 1000
DATA_DIR = os.path.realpath(os.environ.get("DATA_DIR", os.environ.get("TRAINER_DATA_DIR", "../shared/data")))
TRAINER = os.environ.get("TRAINER", ".build/release/trainer")
MODES = [("sync", []), ("async", ["--mode", "async"]), (f"ssp (S = {STALENESS})", ["--mode", "ssp", "--staleness", str(STALENESS)])]


def pause_loop(pid, stop):
    """SIGSTOP for PAUSE, SIGCONT, every PERIOD, until STOP is set; leaves the process running."""
    while not stop.wait(PERIOD - PAUSE):
        try:
            os.kill(pid, signal.SIGSTOP)
            time.sleep(PAUSE)
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            return


def run(flags, folder):
    metrics = os.path.join(folder, "run.jsonl")
    if os.path.exists(metrics): os.remove(metrics)
    server = subprocess.Popen([TRAINER, "server", "--bind", "tcp://127.0.0.1:*", "--workers", "4", "--model", MODEL,
                               "--dataset", DATASET, "--data-dir", DATA_DIR, "--epochs", str(EPOCHS), "--metrics", metrics,
                               "--threads", "1", "--heartbeat-timeout", "30", "--no-progress"] + flags,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    endpoint = None
    for line in server.stdout:
        found = re.search(r"listening on (tcp://127\.0\.0\.1:[0-9]+)", line)
        if found:
            endpoint = found.group(1)
            break
    if endpoint is None: sys.exit("the server did not start: " + server.communicate()[0])
    workers = [subprocess.Popen([TRAINER, "worker", "--connect", endpoint, "--data-dir", DATA_DIR, "--threads", "1",
                                 "--heartbeat-timeout", "30"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(4)]
    stop = threading.Event()
    pauser = threading.Thread(target=pause_loop, args=(workers[0].pid, stop))
    pauser.start()
    output = server.communicate(timeout=1800)[0]
    stop.set()
    pauser.join()
    for worker in workers: worker.wait(timeout=60)
    if server.returncode != 0: sys.exit(f"the server failed ({flags}): {output[-2000:]}")
    events = [json.loads(line) for line in open(metrics)]
    epochs = [e for e in events if e["event"] == "epoch"]
    return {"rate": statistics.median(e["samples_per_second"] for e in epochs), "accuracy": epochs[-1]["test_accuracy"],
            "ahead": max((len(w.get("steps_ahead", [])) - 1 for e in epochs for w in e["workers"]), default=0),
            "stragglers": sum(1 for e in events if e["event"] == "straggler")}


def main():
    subprocess.run(["swift", "build", "-c", "release", "--product", "trainer"], check=True)
    load_before = os.getloadavg()[0]
    results = {name: [] for name, _ in MODES}
    with tempfile.TemporaryDirectory() as folder:
        for round_index in range(ROUNDS):
            for name, flags in MODES:
                result = run(flags, folder)
                results[name].append(result)
                print(f"round {round_index + 1} {name}: {result['rate']:.0f} samples/s, accuracy {result['accuracy']:.4f}, "
                      f"at most {result['ahead']} steps ahead, {result['stragglers']} straggler events", flush=True)
    load_after = os.getloadavg()[0]
    median = {name: (statistics.median(r["rate"] for r in runs), statistics.median(r["accuracy"] for r in runs),
                     max(r["ahead"] for r in runs)) for name, runs in results.items()}
    sync_rate, sync_accuracy, _ = median["sync"]
    rows = "\n".join(f"| {name} | {rate:,.0f} | {rate / sync_rate:.2f}× | {100 * accuracy:.2f}% | "
                     f"{100 * (accuracy - sync_accuracy):+.2f} pt | {ahead} |" for name, (rate, accuracy, ahead) in median.items())
    ssp_rate, ssp_accuracy, _ = median[MODES[2][0]]
    verdict = (f"SSP reached {ssp_rate / sync_rate:.2f}× sync's samples/s (target ≥ 1.5×: "
               f"{'met' if ssp_rate >= 1.5 * sync_rate else 'missed'}) at {100 * (ssp_accuracy - sync_accuracy):+.2f} pt "
               f"(target within 0.5 pt: {'met' if abs(ssp_accuracy - sync_accuracy) <= 0.005 else 'missed'}).")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    # One sync step is every worker's batch; S steps of lead at that pace ride out a pause that short.
    step_ms = 1000 * 4 * 64 / sync_rate
    cover = (f"A sync step (4 × 64 samples) took about {step_ms:.0f} ms here, so S = {STALENESS} steps of lead last about "
             f"{STALENESS * step_ms:.0f} ms against a pause of {PAUSE * 1000:.0f} ms: "
             + ("the others run through the pause." if STALENESS * step_ms >= PAUSE * 1000 else
                "after S steps the others wait for the paused worker as sync does, so the gain is bounded by S steps per pause."))
    section = f"""## A straggler: sync, async and SSP, {MODEL} on {DATASET} (issue 11)

`{' '.join(f'{k}={os.environ[k]}' for k in ['MODEL', 'DATASET', 'ROUNDS', 'EPOCHS', 'STALENESS'] if k in os.environ)} python3 Benchmarks/straggler.py`
on {time.strftime('%Y-%m-%d')}, commit {commit}, {os.cpu_count()} cores, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')};
load average {load_before:.1f} before and {load_after:.1f} after. A server and 4 worker processes (one BLAS thread
each) on this host, {MODEL} on {DATASET}, {EPOCHS} epochs, batch 64 per worker; worker 0 is paused with SIGSTOP for
{PAUSE * 1000:.0f} ms in every {PERIOD * 1000:.0f} ms from its start to the end. Medians over {ROUNDS} round(s); samples/s is the
server's per-epoch training rate (without evaluation), accuracy the test accuracy after the last epoch.

| mode | samples/s | vs sync | test accuracy | vs sync | most steps ahead |
|---|---:|---:|---:|---:|---:|
{rows}

{verdict} {cover}
"""
    print(section)
    write_section("docs/benchmarks.md", section)


if __name__ == "__main__":
    main()
