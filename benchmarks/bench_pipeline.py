"""What recording a pipeline run costs, and how it grows with the number of recorded runs.

    python benchmarks/bench_pipeline.py               # 300 runs of a 3-step pipeline
    python benchmarks/bench_pipeline.py --runs 1000

Each run: 3 steps with small outputs (stored, linked, lineage), one new model version,
one commit with the run manifest. Printed: the median time of a whole run at the
start and at the end of the series, and of the same three functions called plainly.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

from gitreg import Client, Model, pipeline, step


def load(seed: int) -> tuple[list, list]:
    return [[seed, seed + 1]] * 50, [seed % 3] * 50


def train(x: list, y: list) -> dict:
    return {"w": [sum(r) for r in x][:5], "n": len(y)}


def evaluate(model: dict) -> float:
    return model["n"] / 100


@step(name="load")
def load_step(seed: int) -> tuple[Annotated[list, "features"], Annotated[list, "labels"]]:
    return load(seed)


@step(name="train")
def train_step(x: list, y: list) -> Annotated[dict, "weights"]:
    return train(x, y)


@step(name="evaluate")
def evaluate_step(model: dict) -> Annotated[float, "accuracy"]:
    return evaluate(model)


@pipeline(model=Model("bench"))
def bench(seed: int = 0):
    x, y = load_step(seed)
    evaluate_step(train_step(x, y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]  # a shared machine: the figures depend on what else runs
    with tempfile.TemporaryDirectory(prefix="gitreg-bench-") as tmp:
        root = Path(tmp)
        Client.init(root)
        os.chdir(root)
        times = []
        for i in range(args.runs):
            t0 = time.perf_counter()
            bench(seed=i)
            times.append(time.perf_counter() - t0)
        plain = []
        for i in range(50):
            t0 = time.perf_counter()
            x, y = load(i)
            evaluate(train(x, y))
            plain.append(time.perf_counter() - t0)
        count = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=root, capture_output=True,
                               text=True).stdout.strip()
        window = max(10, args.runs // 10)
        git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
        print(f"\ngitreg pipeline benchmark: {args.runs} runs of a 3-step pipeline; Python {sys.version.split()[0]},"
              f" {git}; {count} commits; load average {load_at_start:.1f} at the start,"
              f" {os.getloadavg()[0]:.1f} at the end\n")
        print("| what | median |")
        print("|---|---:|")
        print(f"| the three functions called plainly | {statistics.median(plain) * 1e6:.0f} µs |")
        print(f"| a recorded run, first {window} runs | {statistics.median(times[:window]) * 1000:.0f} ms |")
        print(f"| a recorded run, last {window} runs (after {args.runs - window} recorded) |"
              f" {statistics.median(times[-window:]) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
