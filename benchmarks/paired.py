"""Run a benchmark of this repository against an older commit's code, the two taking turns.

    python benchmarks/paired.py --base a039588 -- benchmarks/bench_pipeline.py --runs 300
    python benchmarks/paired.py --base HEAD~5 --rounds 5 -- benchmarks/bench_writers.py --repeats 1

A shared machine's speed drifts over minutes, so a figure measured an hour ago says little
against one measured now; runs that alternate do (with a pause between them: a benchmark's
clean-up of thousands of files keeps the disk busy into the next run). The base commit is checked out into a
temporary worktree; each round runs the benchmark script (the base's own copy of it) with
that code first, then with this checkout's. Every table row the script prints ("| name | value
|") is collected, and the median of each row's numbers over the rounds is printed per side.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def rows(output: str, column: int = -1) -> dict[str, float]:
    """Each table row's label and the first number of its cell ``column`` (default: the last)."""
    out: dict[str, float] = {}
    lines = output.splitlines()
    for n, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or set(cells[0]) <= {"-", ":", " "}:
            continue
        if n + 1 < len(lines) and set(lines[n + 1].strip()) <= {"|", "-", ":", " "} and lines[n + 1].strip():
            continue  # a header: the separator row follows it
        if not -len(cells) <= column < len(cells):
            continue
        found = NUMBER.search(cells[column].replace(",", ""))
        if found:
            out[cells[0]] = float(found.group())
    return out


def run(tree: Path, script: list[str]) -> str:
    env = dict(os.environ, PYTHONPATH=str(tree))
    res = subprocess.run([sys.executable, str(tree / script[0]), *script[1:]], cwd=tree, env=env,
                         capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"{script[0]} failed with the code of {tree}:\n{res.stderr[-2000:]}")
    return res.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare with (any git revision)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--column", type=int, default=-1,
                        help="the table column holding the figure (0 is the label; default: the last; 1 for"
                             " bench_registry.py, whose last column is the target)")
    parser.add_argument("--pause", type=float, default=10.0,
                        help="seconds to wait (after a sync) between runs: the last run's clean-up of its files"
                             " keeps the disk busy for a while")
    parser.add_argument("script", nargs=argparse.REMAINDER, help="-- the benchmark script and its options")
    args = parser.parse_args()
    script = [a for a in args.script if a != "--"]
    if not script:
        parser.error("name the benchmark script after --")
    base = subprocess.run(["git", "rev-parse", "--short", args.base], cwd=HERE, capture_output=True, text=True,
                          check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="gitreg-paired-") as tmp:
        tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), base], cwd=HERE, check=True)
        try:
            got: dict[str, dict[str, list[float]]] = {"base": {}, "this": {}}
            for n in range(args.rounds):
                for side, where in (("base", tree), ("this", HERE)):
                    os.sync()
                    time.sleep(args.pause)
                    for label, value in rows(run(where, script), args.column).items():
                        got[side].setdefault(label, []).append(value)
                print(f"  round {n + 1}/{args.rounds}", file=sys.stderr)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=HERE, check=False)
    print(f"\n{' '.join(script)}: {args.rounds} rounds, base {base} and this checkout taking turns; "
          f"load average {os.getloadavg()[0]:.1f} at the end\n")
    print(f"| row | base {base} | this checkout | this / base |")
    print("|---|---:|---:|---:|")
    for label, values in got["this"].items():
        before = got["base"].get(label)
        now = statistics.median(values)
        if before:
            then = statistics.median(before)
            ratio = f"{now / then:.2f}" if then else ""
            print(f"| {label} | {then:g} ({', '.join(f'{v:g}' for v in before)}) | {now:g} "
                  f"({', '.join(f'{v:g}' for v in values)}) | {ratio} |")


if __name__ == "__main__":
    main()
