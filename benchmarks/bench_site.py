"""Benchmark `gitreg site build` on a large registry and print a table.

    python benchmarks/bench_site.py                    # 1,000 models x 20 versions, 3 runs of each build
    python benchmarks/bench_site.py --models 100 --runs 1
    python benchmarks/bench_site.py --registry /tmp/reg   # reuse (or make once and keep) a registry there

The registry is made as in bench_registry.py (fast-import: every manifest and tag).
Each full build runs in a fresh process into an empty folder: "cold" without gitreg's
caches (``.git/gitreg/cache`` removed first: every manifest is parsed and validated),
"warm" with the caches the cold build left. Each row gives the build's own time, the
whole process (start-up and imports included), the CPU time it used (user + system, its
workers included) and the load average when it started: the machine may be shared, and
the time to create 22,000 files on a busy file system varies by seconds from one minute
to the next.

Targets (issue 12): a full build under 10 s, cold; a model page with 20 versions under
100 KB; an incremental rebuild after one write well under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_registry import build

from gitreg import Client
from gitreg.site.builder import build_site

IDENTITY = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}


def load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def one_build(root: Path, out: Path) -> None:
    """Run in a fresh process: one full build, its result as one JSON line."""
    result = build_site(Client(root).registry, out, full=True)
    print(json.dumps({"seconds": result.seconds, "pages": result.pages_written, "models": result.models}))


def timed_build(root: Path, out: Path, cold: bool) -> dict[str, float | str]:
    if cold:
        shutil.rmtree(root / ".git" / "gitreg" / "cache", ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    at = load()
    start = time.perf_counter()
    res = subprocess.run([sys.executable, __file__, "--one-build", str(root), str(out)],
                         capture_output=True, text=True)
    process = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"the build failed: {res.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {**json.loads(res.stdout.splitlines()[-1]), "process": process, "cpu": cpu, "load": at}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="cold and warm full builds (each in a fresh process)")
    parser.add_argument("--registry", type=Path, help="use the registry there (made there first if missing);"
                                                      " it is kept (a rebuild after one write changes it)")
    parser.add_argument("--one-build", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for key, value in IDENTITY.items():
        os.environ.setdefault(key, value)
    if args.one_build:
        one_build(*args.one_build)
        return
    scratch = Path(tempfile.mkdtemp(prefix="gitreg-bench-site-"))
    try:
        root = args.registry.absolute() if args.registry else scratch / "reg"
        made = None
        if not (root / ".mcp" / "registry.yaml").exists():
            t = time.perf_counter()
            build(root, args.models, args.versions)
            made = time.perf_counter() - t
        rows: list[tuple[str, str]] = []
        if made is not None:
            rows.append(("registry made (fast-import)", f"{made:.1f} s"))
        builds: dict[str, list[float]] = {"cold": [], "warm": []}
        for run in range(1, args.runs + 1):
            for kind in ("cold", "warm"):
                r = timed_build(root, scratch / f"site-{kind}-{run}", cold=kind == "cold")
                builds[kind].append(float(r["seconds"]))
                rows.append((f"full build, {kind}, run {run} ({r['models']} models, {r['pages']} files)",
                             f"{r['seconds']:.2f} s (process {r['process']:.2f} s, CPU {r['cpu']:.1f} s,"
                             f" load {r['load']})"))
        for kind, times in builds.items():
            if times:
                target = "  (target < 10 s)" if kind == "cold" else ""
                rows.append((f"full build, {kind}: median of {len(times)}",
                             f"{statistics.median(times):.2f} s{target}"))
        client = Client(root)
        out = scratch / "site"
        build_site(client.registry, out, full=True)
        first = client.registry.snapshot().model_names()[0]
        page = out / "models" / first / "index.html"
        noop = build_site(client.registry, out)
        client.log_metadata(first, 3, {"bench_write": time.time_ns()})  # a new value: a reused registry changes too
        one = build_site(client.registry, out)
        rows += [
            (f"model page, {args.versions} versions", f"{page.stat().st_size / 1024:.1f} KB  (target < 100 KB)"),
            ("rebuild, nothing changed", f"{noop.seconds:.3f} s"),
            (f"rebuild after one write ({one.models_rendered} model rendered)",
             f"{one.seconds:.3f} s  (target well under 1 s)"),
        ]
        width = max(len(r[0]) for r in rows)
        for what, value in rows:
            print(f"{what.ljust(width)}  {value}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
