"""Artifact save and load against a plain read of the same bytes; prints a table.

    python benchmarks/bench_artifacts.py            # 64 MiB of bytes and a 64 MiB float64 array
    python benchmarks/bench_artifacts.py --mib 16 --runs 7

Rows, each the median of ``--runs`` in-process timings in a scratch registry
with its local store: a plain read of the stored object file (``read_bytes`` /
``np.load``), reading and hashing it once, writing the bytes once (the floor of
any save), saving a new object of that size, a first load (no verified stamp:
hashed in place, alongside the read), and a verified load (stamp recorded).
"old way" rows time what gitreg did before: a temporary copy on save, a
verified private copy read again on load.  "floor" rows add up what a save
(write the bytes, then hash them) and a first load (hash, and the
materializer's own read) cost one after the other: with a free second core the
hash of a first load overlaps the read; on a busy machine it cannot.
Targets (gitreg issue 9): verified load <= 1.5x the plain read; first load and
save <= 1.3x reading and hashing once.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gitreg import Client, Model


def median_time(fn: Callable[[], Any], runs: int, before: Callable[[], Any] = lambda: None) -> float:
    times = []
    for _ in range(runs):
        before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def read_and_hash(path: Path) -> None:
    digest = hashlib.sha256()
    buf = bytearray(8 * 1024 * 1024)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(view[:n])
    digest.hexdigest()


def bench(label: str, value: Any, plain: Callable[[Path], Any], runs: int, root: Path) -> list[tuple]:
    from gitreg import artifacts, materializers

    client = Client(root)
    store = client.registry.store()
    model = Model("bench")
    link = model.save_artifact(value, label)
    artifact = model.get_artifact(label)
    obj = root / link.uri
    stamps = client.registry.repo.cache_dir / "verified"
    fresh: list[Any] = []
    written: list[Path] = []

    def forget() -> None:
        shutil.rmtree(stamps, ignore_errors=True)

    def next_value() -> None:  # same size, other bytes: a save that stores a new object
        for path in written:
            os.chmod(path, 0o644)
            path.unlink(missing_ok=True)
        written.clear()
        if isinstance(value, np.ndarray):
            other = value.copy()
            other[0] = time.perf_counter_ns()
        else:
            other = time.perf_counter_ns().to_bytes(8, "little") + value[8:]
        fresh[:] = [other]

    def save() -> None:  # what Model.save_artifact does before committing the link
        link = artifacts.save_object(client.registry, fresh[0], "bench-save", None)
        written.append(root / link.uri)

    def save_via_copy() -> None:  # what saving did before: a temporary file, copied into the store
        with tempfile.TemporaryDirectory(prefix="gitreg-") as folder:
            materializers.save(fresh[0], Path(folder) / "artifact")
            written.append(root / store.put_file(Path(folder) / "artifact").uri)

    def write_once() -> None:  # the floor of any save: the bytes written once
        path = obj.with_name(f"bench-{time.perf_counter_ns()}")
        materializers.save(fresh[0], path)
        written.append(path)

    def load_via_copy() -> Any:  # what loading did before: a verified private copy, read again
        with tempfile.TemporaryDirectory(prefix="gitreg-") as folder:
            path = store.fetch_file(link.uri, link.sha256, Path(folder) / "artifact", size=link.size)
            return materializers.load(link.format, path, verified=True)

    # Rounds, each running every operation once, so that all see the same machine (it is shared).
    ops: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        ("plain", lambda: plain(obj), lambda: None),
        ("hashed", lambda: read_and_hash(obj), lambda: None),
        ("first", artifact.load, forget),
        ("verified", artifact.load, lambda: None),  # the first load recorded the stamp
        ("old_load", load_via_copy, lambda: None),
        ("write", write_once, next_value),
        ("save", save, next_value),
        ("old_save", save_via_copy, next_value),
    ]
    time.sleep(0.2)  # objects changed less than RACY_NS ago are never read in place
    times: dict[str, list[float]] = {name: [] for name, _, _ in ops}
    for _ in range(runs):
        for name, fn, before in ops:
            times[name].append(median_time(fn, 1, before))
    assert (stamps / link.sha256).exists(), "no verified stamp was recorded"
    next_value()
    plain_t, hashed_t, first_t, verified_t, old_load_t, write_t, save_t, old_save_t = (
        statistics.median(times[name]) for name, _, _ in ops)
    return [
        (label, "plain read", plain_t, None, None),
        (label, "read + sha256 once", hashed_t, None, None),
        (label, "write once", write_t, None, None),
        (label, "  floor: write + hash", write_t + hashed_t, (write_t + hashed_t) / hashed_t, None),
        (label, "save", save_t, save_t / hashed_t, 1.3),
        (label, "  save, old way", old_save_t, old_save_t / hashed_t, None),
        (label, "  floor: hash + read", hashed_t + plain_t, (hashed_t + plain_t) / hashed_t, None),
        (label, "first load", first_t, first_t / hashed_t, 1.3),
        (label, "  first load, old way", old_load_t, old_load_t / hashed_t, None),
        (label, "verified load", verified_t, verified_t / plain_t, 1.5),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="gitreg-bench-") as tmp:
        root = Path(tmp)
        os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
        os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.com")
        os.environ.setdefault("GIT_COMMITTER_NAME", "bench")
        os.environ.setdefault("GIT_COMMITTER_EMAIL", "bench@example.com")
        os.chdir(root)
        Client.init(root)
        rng = np.random.default_rng(0)
        rows = bench("bytes", rng.bytes(size), Path.read_bytes, args.runs, root)
        rows += bench("numpy", rng.random(size // 8), lambda p: np.load(p, allow_pickle=False), args.runs, root)
    print(f"{args.mib} MiB, median of {args.runs} runs")
    print("ratios: verified load / plain read; save and first load / (read + sha256 once)")
    print(f"{'object':<7} {'operation':<22} {'ms':>8} {'ratio':>7} {'target':>7}")
    for label, op, seconds, ratio, target in rows:
        mark = "" if ratio is None else f"{ratio:6.2f}x"
        if target is not None:
            mark += f" {target:5.1f}x{'' if ratio <= target else '  missed'}"
        print(f"{label:<7} {op:<22} {seconds * 1000:8.1f} {mark}")


if __name__ == "__main__":
    main()
