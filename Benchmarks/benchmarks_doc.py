"""Writes one benchmark's section of docs/benchmarks.md, leaving the other sections as they are, and
judges how much other processes disturbed the runs. Imported by the benchmark scripts' report code
(run from the project root)."""

import os
import re

INTRO = """# Benchmarks

Each benchmark is a script under `Benchmarks/` that builds the release binary with its own scratch
path, runs the measurement several times alternating with its reference implementation, and
rewrites its own section of this page with the medians, the spread, the exact command and the
machine. Figures depend on the machine and on OpenBLAS's kernel choice (`OPENBLAS_CORETYPE`),
which every section records; compare ratios measured on one machine, not absolute figures across
machines, and run on an otherwise idle machine. Re-run a script to refresh its section; other
sections are left as they are.
"""


def write_section(doc, section):
    """Replaces the section whose first line is SECTION's heading (up to the next "## "), or appends it."""
    heading = section.strip().split("\n", 1)[0]
    text = open(doc).read() if os.path.exists(doc) else INTRO
    pattern = re.compile(r"^" + re.escape(heading) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.strip() + "\n\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section.strip() + "\n"
    os.makedirs(os.path.dirname(doc), exist_ok=True)
    open(doc, "w").write(text.rstrip("\n") + "\n")
    print(f"(written to {doc})")


DISTURBED = 0.05  # a run during which other processes used more than 5% of the machine


def other_load(path, tick, ncpu):
    """The share of the machine's CPU that other processes (and the hypervisor's steal) took during one
    run, from the .load file Benchmarks/common.sh wrote for it."""
    ticks, steal, wall = open(path).read().split()
    return (max(0, int(ticks)) + int(steal)) / tick / (float(wall) * ncpu)


def rounds_note(rounds, clean, loads, what="run"):
    """A sentence on the rounds left out because a run in them was disturbed (CLEAN: the rounds kept)."""
    if not clean:
        return (f"**every round had a {what} with other processes taking more than {DISTURBED:.0%} of the machine "
                f"(up to {max(loads):.0%}): the figures are pessimistic and noisy; re-run on an idle machine**")
    if rounds - len(clean):
        return (f"{rounds - len(clean)} of {rounds} rounds had a {what} with other processes taking more than "
                f"{DISTURBED:.0%} of the machine (up to {max(loads):.0%}) and are left out for every configuration")
    return f"no {what} had other processes taking more than {DISTURBED:.0%} of the machine"
