"""Many writers on one clone: W processes registering K versions of one model each, at once.

    python benchmarks/bench_writers.py                          # 8 x 25 on a 100 x 20 registry
    python benchmarks/bench_writers.py --models 1000 --writers 8 --per-writer 25

Prints registrations per second (wall clock, all processes started together), and checks what
must hold whatever the speed: the numbers are 1..W*K with no gap and no duplicate, every one has
its registration tag, and `gitreg check` passes afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_registry import build

WRITER = r"""
import json, sys, time
from gitreg import Client
client = Client(sys.argv[1])
go = float(sys.argv[4])
while time.time() < go:
    time.sleep(0.001)
numbers = [client.create_model_version(sys.argv[2]).number for _ in range(int(sys.argv[3]))]
print(json.dumps(numbers))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--per-writer", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]  # a shared machine: the figures depend on what else runs
    scratch = Path(tempfile.mkdtemp(prefix="gitreg-bench-writers-"))
    try:
        template = scratch / "template"
        build(template, args.models, 20)
        rates = []
        for repeat in range(args.repeats):
            repo = scratch / f"run{repeat}"
            subprocess.run(["git", "clone", "-q", str(template), str(repo)], check=True)
            subprocess.run(["git", "fetch", "-q", "origin", "refs/tags/*:refs/tags/*"], cwd=repo, check=True)
            go = time.time() + 1.0  # every writer has imported gitreg and opened the registry by then
            procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(repo), "shared", str(args.per_writer),
                                       str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(args.writers)]
            numbers: list[int] = []
            for proc in procs:
                out, err = proc.communicate()
                if proc.returncode != 0:
                    raise SystemExit(f"a writer failed: {err.strip()[-2000:]}")
                numbers += json.loads(out)
            wall = time.time() - go
            total = args.writers * args.per_writer
            tags = subprocess.run(["git", "tag", "-l", "models/shared/v*"], cwd=repo, capture_output=True,
                                  text=True, check=True).stdout.split()
            check = subprocess.run([str(Path(sys.executable).parent / "gitreg"), "check"], cwd=repo,
                                   capture_output=True, text=True)
            ok = sorted(numbers) == list(range(1, total + 1)) and len(tags) == total and check.returncode == 0
            rates.append(total / wall)
            print(f"repeat {repeat + 1}: {total} registrations in {wall:.2f} s = {total / wall:.1f}/s;"
                  f" numbers 1..{total} without gaps or duplicates, every tag, check passes: {'yes' if ok else 'NO'}")
            if not ok:
                raise SystemExit(check.stdout + check.stderr)
        rates.sort()
        print(f"\n| registry | writers x registrations | registrations/s (median of {args.repeats}) |")
        print("|---|---|---|")
        print(f"| {args.models:,} x 20, one clone with a work tree | {args.writers} x {args.per_writer} |"
              f" {rates[len(rates) // 2]:.0f} ({', '.join(f'{r:.0f}' for r in rates)}) |")
        print(f"\n{os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}, load average {load_at_start:.1f} at the"
              f" start, {os.getloadavg()[0]:.1f} at the end")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
