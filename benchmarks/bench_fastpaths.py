"""What each fast path buys: the same operations with that one fast path switched to its reference.

    python benchmarks/bench_fastpaths.py                      # 1,000 models x 20 versions
    python benchmarks/bench_fastpaths.py --models 10000       # 10,000 x 20 (slow to build)
    python benchmarks/bench_fastpaths.py --models 100 --runs 3 --only index,refs

Builds a scratch registry with benchmarks/bench_registry.py's builder (fast-import), warms its caches
(a read of every model, a `gitreg check`), then, for every fast path of gitreg.fastpaths, times these
operations in one process, each repetition once with every fast path on and once with GITREG_REFERENCE
naming that one path (gitreg reads the variable again whenever it changes), taking turns, so that both
sides see the same machine (medians of --runs each; writes and reads in-process, three times as many):

- register: ``create_model_version`` with metadata (a few parameters and a training curve of 50 values;
  each side writes models of its own, after one untimed write);
- set stage: ``update_model_version(..., stage="staging", force=True)`` of the version just registered;
- read production, first: ``Client(...).get_model_version(model, "production")`` of a model this process
  has not read (the cache on disk warm);
- read production, again: the same read once more;
- read production, new process: the same read in a process of its own (``python -c``), as a script or the
  command line reads;
- pipeline run: a two-step pipeline run recorded against a model of the registry;
- check warm: ``gitreg check`` run again with nothing changed since the last one (a new process);
- check after a write: ``gitreg check`` after one more version was registered (what the check of every
  pull request does: most of what it proves is unchanged since the last check);
- check, nothing remembered: ``gitreg check`` with the cache under the git dir removed first (not with
  --no-cold-check).

Prints a table: fast path, operation, fast ms, reference ms, and what the fast path buys (the share of the
reference's time it saves, and the ratio; negative: the fast path is slower there).  The machine's load
moves medians of a few milliseconds by 10-30% between runs: read a row as a gain only when it is larger
than that.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench_registry import PRODUCTION, build  # noqa: E402

from gitreg import step  # noqa: E402
from gitreg.fastpaths import ENV, FAST_PATHS  # noqa: E402

OPERATIONS = ["register", "set stage", "read production, first", "read production, again",
              "read production, new process", "pipeline run", "check warm", "check after a write",
              "check, nothing remembered"]
READ = "from gitreg import Client; import sys; assert Client('.').get_model_version(sys.argv[1], 'production')"


@step(name="load")
def load(seed: int) -> Annotated[list, "rows"]:
    return [seed] * 10


@step(name="fit")
def fit(rows: list) -> Annotated[dict, "weights"]:
    return {"w": sum(rows)}


def _check(root: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "gitreg", "check"], cwd=root, env=dict(os.environ),
                         capture_output=True)
    if res.returncode not in (0, 14):  # 14: findings (a benchmark registry has none, but a finding is no crash)
        raise SystemExit(f"gitreg check failed: {res.stderr.decode(errors='replace')}")


class Pairs:
    """Times of one operation, each repetition once per side (0: fast, 1: reference), taking turns."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.times: dict[str, tuple[list[float], list[float]]] = {}

    def run(self, op: str, runs: int, action: Callable[[int, int], object],
            before: Callable[[int, int], object] | None = None) -> None:
        """``action(side, k)`` for k in range(runs), on both sides, each k's two sides back to back (``before``,
        untimed, just before each)."""
        times = self.times.setdefault(op, ([], []))
        for k in range(runs):
            for side in ((0, 1) if k % 2 == 0 else (1, 0)):  # who goes first alternates
                os.environ[ENV] = self.name if side else ""
                if before is not None:
                    before(side, k)
                t0 = time.perf_counter()
                action(side, k)
                times[side].append(time.perf_counter() - t0)
        os.environ[ENV] = ""

    def medians(self) -> dict[str, tuple[float, float]]:
        return {op: (statistics.median(f) * 1000, statistics.median(r) * 1000) for op, (f, r) in self.times.items()}


def worker(root: Path, name: str, models: int, runs: int, slot: int, cold_check: bool) -> dict[str, tuple]:
    """Time the operations with ``name`` fast and switched to its reference, in turns; ``slot``: which models
    to write to, so that no two workers (nor the two sides) write the same ones."""
    from gitreg import Client, Model, pipeline

    os.chdir(root)
    pairs = Pairs(name)
    client = Client(root)
    many = 3 * runs  # repetitions of the quick operations
    # each side writes models of its own quarter (cycled: in a small registry a model's cache entry is rewritten
    # whole every so many writes, and that cost must fall on both sides alike), reads from the upper half
    pool = max(1, models // 4)
    writers = [[f"m{1 + side * pool + (slot * (many + 1) + k) % pool}" for k in range(many + 1)] for side in (0, 1)]
    readers = [[f"m{1 + ((2 + side) * pool + k * 7 % pool) % models}" for k in range(many)] for side in (0, 1)]
    metadata = {"accuracy": 0.93, "params": {"gamma": 0.01, "C": 1.0, "kernel": "rbf", "seed": 7},
                "loss": [round(1 / (1 + n), 6) for n in range(50)]}
    for side in (0, 1):  # the client's first write on each side (its locks, config, note) is not timed
        os.environ[ENV] = name if side else ""
        client.create_model_version(writers[side][-1])
    numbers: tuple[list[int], list[int]] = ([], [])
    pairs.run("register", many, lambda side, k: numbers[side].append(
        client.create_model_version(writers[side][k], metadata=metadata).number))
    pairs.run("set stage", many, lambda side, k: client.update_model_version(
        writers[side][k], numbers[side][k], stage="staging", force=True))

    def read(side: int, k: int) -> None:
        assert Client(root).get_model_version(readers[side][k], "production").number == PRODUCTION

    pairs.run("read production, first", many, read)
    pairs.run("read production, again", many, read)
    pairs.run("read production, new process", runs, lambda side, k: subprocess.run(
        [sys.executable, "-c", READ, readers[side][-1 - k]], cwd=root, env=dict(os.environ), check=True))
    trains = []
    for side in (0, 1):
        @pipeline(model=Model(writers[side][0]))
        def train(seed: int = 0) -> None:
            fit(load(seed))

        os.environ[ENV] = name if side else ""
        train(seed=-1)  # the first run (the client opened for runs) not timed
        trains.append(train)
    pairs.run("pipeline run", many, lambda side, k: trains[side](seed=k))
    for side in (0, 1):
        os.environ[ENV] = name if side else ""
        _check(root)  # what is remembered now is this commit's report
    pairs.run("check warm", runs, lambda side, k: _check(root))
    pairs.run("check after a write", runs, lambda side, k: _check(root),
              before=lambda side, k: client.create_model_version(writers[side][k]))
    if cold_check:
        cache = Path(root) / ".git" / "gitreg" / "cache"
        pairs.run("check, nothing remembered", max(2, runs // 2), lambda side, k: _check(root),
                  before=lambda side, k: shutil.rmtree(cache, ignore_errors=True))
        _check(root)  # the cache warm again for the next worker
    return pairs.medians()


def run_worker(root: Path, args: argparse.Namespace, name: str, slot: int) -> dict[str, list[float]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop(ENV, None)
    cmd = [sys.executable, __file__, "--worker", str(root), "--name", name, "--models", str(args.models),
           "--runs", str(args.runs), "--slot", str(slot)] + ([] if args.cold_check else ["--no-cold-check"])
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"worker for {name} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def warm(root: Path, models: int) -> None:
    """Fill the caches as everyday use would: every model read once (its cache entry), one check."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop(ENV, None)
    code = ("from gitreg import Client\nc = Client('.')\n"
            f"for m in range(1, {models} + 1): c.get_model_version(f'm{{m}}', 'production')\n")
    subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True)
    subprocess.run([sys.executable, "-m", "gitreg", "check"], cwd=root, env=env, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=7,
                        help="repetitions per timing and side (median reported; three times as many in-process)")
    parser.add_argument("--only", default="", help="a comma list of fast paths to measure (default: all)")
    parser.add_argument("--no-cold-check", dest="cold_check", action="store_false",
                        help="leave out the check with nothing remembered")
    parser.add_argument("--keep", action="store_true", help="keep the scratch registry")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--slot", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.name, args.models, args.runs, args.slot, args.cold_check)))
        return
    if args.versions < PRODUCTION:
        raise SystemExit(f"--versions must be {PRODUCTION} or more: version {PRODUCTION} is the one in production")
    names = [n for n in args.only.split(",") if n] or list(FAST_PATHS)
    unknown = [n for n in names if n not in FAST_PATHS]
    if unknown:
        raise SystemExit(f"no fast path is named {', '.join(unknown)}; the fast paths: {', '.join(FAST_PATHS)}")
    scratch = Path(tempfile.mkdtemp(prefix="gitreg-bench-fastpaths-"))
    root = scratch / "registry"
    try:
        t0 = time.perf_counter()
        build(root, args.models, args.versions)
        warm(root, args.models)
        print(f"registry of {args.models:,} models x {args.versions} versions built and warmed in"
              f" {time.perf_counter() - t0:.0f} s; each fast path against its reference in turns, medians of"
              f" {args.runs} ({3 * args.runs} in-process)", flush=True)
        rows: list[tuple[str, str, float, float]] = []
        for slot, name in enumerate(names):
            medians = run_worker(root, args, name, slot)
            for op in OPERATIONS:
                if op in medians:
                    rows.append((name, op, *medians[op]))
                    print(_line(*rows[-1]), flush=True)
        print()
        print(_table(rows))
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _buys(fast_ms: float, reference_ms: float) -> str:
    if fast_ms <= 0 or reference_ms <= 0:
        return "-"
    return f"{(reference_ms - fast_ms) / reference_ms * 100:+.0f}% ({reference_ms / fast_ms:.1f}x)"


def _line(name: str, op: str, fast_ms: float, reference_ms: float) -> str:
    return f"| {name:<16} | {op:<28} | {fast_ms:>9.1f} | {reference_ms:>9.1f} | {_buys(fast_ms, reference_ms):>14} |"


def _table(rows: list[tuple[str, str, float, float]]) -> str:
    head = f"| {'fast path':<16} | {'operation':<28} | {'fast ms':>9} | {'ref. ms':>9} | {'buys':>14} |"
    rule = "|" + "|".join("-" * len(cell) for cell in head.split("|")[1:-1]) + "|"
    return "\n".join([head, rule, *(_line(*row) for row in rows)])


if __name__ == "__main__":
    main()
