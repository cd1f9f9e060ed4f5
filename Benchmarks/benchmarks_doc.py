"""Writes one benchmark's section of docs/benchmarks.md, leaving the other sections as they are.
Imported by the benchmark scripts' report code (run from the project root)."""

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
