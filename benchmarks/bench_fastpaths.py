"""What each fast path buys: the same operations with that one fast path switched to its reference.

    python benchmarks/bench_fastpaths.py                      # 1,000 models x 20 versions
    python benchmarks/bench_fastpaths.py --models 10000       # 10,000 x 20 (slow to build)
    python benchmarks/bench_fastpaths.py --models 100 --runs 3 --only index,refs

Builds a scratch registry with benchmarks/bench_registry.py's builder (fast-import), warms its caches
(a read of every model, a `gitreg check`), then, for every fast path of gitreg.fastpaths, runs a fresh
process with every fast path on and one with GITREG_REFERENCE set to that one path, back to back (--rounds
times, the lowest median of each kept: the least disturbed by whatever else the machine runs), each timing
(medians of --runs):

- register: ``create_model_version`` of a model (in-process, after the client's first write);
- set stage: ``update_model_version(..., stage="staging")``;
- read production, first: ``get_model_version(model, "production")`` of a model this process has not
  read (what a command line read costs, caches on disk warm);
- read production, again: the same read once more in the same process;
- pipeline run: a two-step pipeline run recorded against a model of the registry;
- check warm: ``gitreg check`` run again with nothing changed since the last one (a new process);
- check, nothing remembered: ``gitreg check`` with the cache under the git dir removed first (not with
  --no-cold-check).

Prints a table: fast path, operation, fast ms, reference ms, and what the fast path buys (the share of the
reference's time it saves; negative: the fast path is slower there).
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
from pathlib import Path
from typing import Annotated, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench_registry import PRODUCTION, build  # noqa: E402
from gitreg import step  # noqa: E402
from gitreg.fastpaths import ENV, FAST_PATHS  # noqa: E402

OPERATIONS = ["register", "set stage", "read production, first", "read production, again", "pipeline run",
              "check warm", "check, nothing remembered"]


@step(name="load")
def load(seed: int) -> Annotated[list, "rows"]:
    return [seed] * 10


@step(name="fit")
def fit(rows: list) -> Annotated[dict, "weights"]:
    return {"w": sum(rows)}


def _median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def _check(root: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "gitreg", "check"], cwd=root, env=env, capture_output=True)
    elapsed = time.perf_counter() - t0
    if res.returncode not in (0, 14):  # 14: findings (a benchmark registry has none, but a finding is no crash)
        raise SystemExit(f"gitreg check failed: {res.stderr.decode(errors='replace')}")
    return elapsed


def worker(root: Path, models: int, runs: int, slot: int, cold_check: bool) -> dict[str, float]:
    """Time the operations in this process (GITREG_REFERENCE as the parent set it); ``slot``: which models
    to write to, so that no two workers write the same ones."""
    from gitreg import Client, Model, pipeline

    client = Client(root)
    out: dict[str, float] = {}
    readers = [f"m{1 + (k * 7) % models}" for k in range(3 * runs)]  # the same models in every worker
    writers = [f"m{1 + (slot * runs + k) % models}" for k in range(runs + 1)]
    client.create_model_version(writers[-1])  # the client's first write (its locks, config, note) not timed
    times = []
    numbers = []
    for name in writers[:-1]:
        t0 = time.perf_counter()
        numbers.append(client.create_model_version(name).number)
        times.append(time.perf_counter() - t0)
    out["register"] = _median_ms(times)
    times = []
    for name, number in zip(writers, numbers):
        t0 = time.perf_counter()
        client.update_model_version(name, number, stage="staging")
        times.append(time.perf_counter() - t0)
    out["set stage"] = _median_ms(times)
    first, again = [], []
    for name in readers:
        t0 = time.perf_counter()
        found = Client(root).get_model_version(name, "production")
        first.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        Client(root).get_model_version(name, "production")
        again.append(time.perf_counter() - t0)
        assert found.number == PRODUCTION
    out["read production, first"] = _median_ms(first)
    out["read production, again"] = _median_ms(again)

    @pipeline(model=Model(writers[0]))
    def train(seed: int = 0) -> None:
        fit(load(seed))

    os.chdir(root)
    train(seed=-1)  # the first run (the client opened for runs) not timed
    times = []
    for seed in range(runs):
        t0 = time.perf_counter()
        train(seed=seed)
        times.append(time.perf_counter() - t0)
    out["pipeline run"] = _median_ms(times)
    env = dict(os.environ)
    _check(root, env)  # what is remembered now is this commit's report
    out["check warm"] = _median_ms([_check(root, env) for _ in range(runs)])
    if cold_check:
        times = []
        for _ in range(max(1, runs // 2)):
            shutil.rmtree(Path(root) / ".git" / "gitreg" / "cache", ignore_errors=True)
            times.append(_check(root, env))
        out["check, nothing remembered"] = _median_ms(times)
    return out


def run_worker(root: Path, args: argparse.Namespace, reference: str, slot: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env[ENV] = reference
    cmd = [sys.executable, __file__, "--worker", str(root), "--models", str(args.models), "--runs", str(args.runs),
           "--slot", str(slot)] + ([] if args.cold_check else ["--no-cold-check"])
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"worker ({ENV}={reference!r}) failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def warm(root: Path, models: int) -> None:
    """Fill the caches as everyday use would: every model read once (its cache entry), one check."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop(ENV, None)
    code = ("from gitreg import Client\nc = Client('.')\n"
            f"for m in range(1, {models} + 1): c.get_model_version(f'm{{m}}', 'production')\n")
    subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True)
    _check(root, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5, help="repetitions per timing (median reported)")
    parser.add_argument("--rounds", type=int, default=2, help="pairs of processes per fast path (lowest median kept)")
    parser.add_argument("--only", default="", help="a comma list of fast paths to measure (default: all)")
    parser.add_argument("--no-cold-check", dest="cold_check", action="store_false",
                        help="leave out the check with nothing remembered")
    parser.add_argument("--keep", action="store_true", help="keep the scratch registry")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--slot", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.models, args.runs, args.slot, args.cold_check)))
        return
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
              f" {time.perf_counter() - t0:.0f} s; {ENV} one fast path at a time, medians of {args.runs}",
              flush=True)
        rows: list[tuple[str, str, float, float]] = []
        slot = 0
        for name in names:
            timings: list[dict[str, Any]] = [{}, {}]
            for _round in range(args.rounds):
                for side, reference in enumerate(("", name)):
                    slot += 1
                    for op, ms in run_worker(root, args, reference, slot).items():
                        timings[side][op] = min(ms, timings[side].get(op, ms))
            for op in OPERATIONS:
                if op in timings[0]:
                    rows.append((name, op, timings[0][op], timings[1][op]))
            for row in rows[-len(timings[0]):]:
                print(_line(*row), flush=True)
        print()
        print(_table(rows))
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _buys(fast_ms: float, reference_ms: float) -> str:
    saved = (reference_ms - fast_ms) / reference_ms if reference_ms > 0 else 0.0
    return f"{saved * 100:+.0f}% ({reference_ms / fast_ms:.1f}x)" if fast_ms > 0 else "-"


def _line(name: str, op: str, fast_ms: float, reference_ms: float) -> str:
    return f"| {name:<16} | {op:<26} | {fast_ms:>9.1f} | {reference_ms:>9.1f} | {_buys(fast_ms, reference_ms):>14} |"


def _table(rows: list[tuple[str, str, float, float]]) -> str:
    head = f"| {'fast path':<16} | {'operation':<26} | {'fast ms':>9} | {'ref. ms':>9} | {'buys':>14} |"
    rule = "|" + "|".join("-" * (len(cell) + 0) for cell in head.split("|")[1:-1]) + "|"
    return "\n".join([head, rule, *(_line(*row) for row in rows)])


if __name__ == "__main__":
    main()
