"""Benchmark `gitreg check` on large registries and print a table.

    python benchmarks/bench_check.py                         # 1,000 x 20 and 10,000 x 20
    python benchmarks/bench_check.py --sizes 1000x20 --runs 3

Each registry is made as in bench_registry.py (fast-import: every manifest, every
registration tag, one production tag per model) and kept under ``--fixtures``
(default: a folder in the system's temporary directory), so a second run of this script
does not build the 10,000-model registry again.

Cold: gitreg's caches removed (``.git/gitreg/cache``), a fresh process.  Warm: the
same command again (median of ``--runs``).  Peak RSS is the largest resident set of the
`gitreg check` process or any of its children (git, and the worker processes that validate
the manifests on a cold run), from ``wait4`` of the child.
Targets (issue 9): cold <= 15 s and warm <= 2 s at 10,000 x 20, memory <= 200 MiB.
The machine's load average is printed with the table: other work on the cores slows both runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_registry import build

COLD_TARGET, WARM_TARGET, RSS_TARGET_MIB = 15.0, 2.0, 200


def fixture(folder: Path, models: int, versions: int) -> Path:
    """The registry of ``models`` x ``versions`` under ``folder``, built once and then reused."""
    root = folder / f"check-{models}x{versions}"
    done = root / ".git" / "gitreg-bench-complete"
    if done.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    started = time.perf_counter()
    build(root, models, versions)
    done.write_text(f"built in {time.perf_counter() - started:.1f} s\n")
    return root


def run_check(gitreg: str, root: Path, args: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB, output) of one `gitreg check` in a fresh process."""
    started = time.perf_counter()
    proc = subprocess.Popen([gitreg, "check", *args], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read().decode("utf-8", "replace")
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"gitreg check failed in {root} (exit {proc.returncode}):\n{output}")
    return seconds, usage.ru_maxrss / 1024, output  # Linux: ru_maxrss in KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000x20,10000x20", help="comma-separated MODELSxVERSIONS")
    parser.add_argument("--runs", type=int, default=3, help="warm repetitions (median reported)")
    parser.add_argument("--fixtures", type=Path, default=Path(tempfile.gettempdir()) / "gitreg-bench-check",
                        help="where the registries are kept between runs of this script")
    parser.add_argument("--no-tags", action="store_true", help="check manifests only (`gitreg check --no-tags`)")
    args = parser.parse_args()
    gitreg = shutil.which("gitreg") or str(Path(sys.executable).with_name("gitreg"))
    extra = ["--no-tags"] if args.no_tags else []
    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    rows = []
    load_before = os.getloadavg()[0]
    for size in args.sizes.split(","):
        models, versions = (int(x) for x in size.lower().split("x"))
        root = fixture(args.fixtures, models, versions)
        shutil.rmtree(root / ".git" / "gitreg" / "cache", ignore_errors=True)
        cold, cold_rss, _ = run_check(gitreg, root, extra)
        warm_runs = [run_check(gitreg, root, extra) for _ in range(args.runs)]
        warm = statistics.median(t for t, _r, _o in warm_runs)
        rss = max([cold_rss] + [r for _t, r, _o in warm_runs])
        rows.append((f"{models:,} x {versions}", models * versions, cold, warm, rss))
    load_after = os.getloadavg()[0]
    print(f"\n`gitreg check{' --no-tags' if args.no_tags else ''}`: {os.cpu_count()} cores,"
          f" Python {sys.version.split()[0]}, {git}, load average {load_before:.1f} before and {load_after:.1f} after")
    fixtures = "" if args.fixtures == parser.get_default("fixtures") else f" --fixtures {args.fixtures}"
    print(f"rerun: python benchmarks/bench_check.py --sizes {args.sizes} --runs {args.runs}{fixtures}"
          f"{' --no-tags' if args.no_tags else ''}\n")
    print("| models x versions | manifests | cold | warm | peak RSS | target (10,000 x 20) |")
    print("|---|---:|---:|---:|---:|---|")
    for label, manifests, cold, warm, rss in rows:
        target = ""
        if manifests == 200_000:
            met = cold <= COLD_TARGET and warm <= WARM_TARGET and rss <= RSS_TARGET_MIB
            target = (f"cold <= {COLD_TARGET:g} s, warm <= {WARM_TARGET:g} s, <= {RSS_TARGET_MIB} MiB:"
                      f" {'met' if met else 'not met'}")
        print(f"| {label} | {manifests:,} | {cold:.2f} s | {warm:.2f} s | {rss:.0f} MiB | {target} |")


if __name__ == "__main__":
    main()
