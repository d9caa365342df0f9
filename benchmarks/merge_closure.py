"""The merge-closure property at length: random pairs of registry operations on two branches of one base,
merged by git, judged by gitreg's check (the suite runs 200 pairs; this runs as many as asked).

    python benchmarks/merge_closure.py --pairs 2000 --seed 1

Prints how many pairs conflicted in git, merged into a valid registry, or were skipped (a branch that its
own `check --base` rejects), and every pair that merged cleanly into a broken registry (there must be none).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from merge_closure import make_base, op_catalogue, run_pair, same_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    ops = op_catalogue()
    counts = {"conflict": 0, "merged": 0, "skipped": 0}
    broken: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        (home / ".gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n"
                                        "[init]\n\tdefaultBranch = main\n")
        os.environ.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(home / ".gitconfig"), GIT_CONFIG_NOSYSTEM="1")
        repo = Path(tmp) / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        make_base(repo)
        start = time.perf_counter()
        for i in range(args.pairs):
            a = rng.choice(ops)
            b = rng.choice(same_model(a, ops) if rng.random() < 0.5 else ops)
            try:
                counts[run_pair(repo, a, b)] += 1
            except AssertionError as exc:
                broken.append(str(exc))
            if (i + 1) % 100 == 0:
                print(f"... {i + 1} pairs, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print("| outcome | pairs |\n|---|---|")
    for outcome, n in counts.items():
        print(f"| {outcome} | {n} |")
    print(f"| merged into a broken registry | {len(broken)} |")
    for line in broken:
        print(line)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
