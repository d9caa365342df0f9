"""Crash stress: kill -9 writers at random points, then check that nothing was lost or left stale.

    python benchmarks/crash_stress.py                 # 216 kills, seed 1
    python benchmarks/crash_stress.py --kills 400 --seed 7

Each round starts a writer process that loops over one kind of write (register a
version, change a stage, log metadata, save an artifact, delete a version, update a
model card, record a pipeline run), waits a random time, and kills it with SIGKILL:
half of the rounds kill only the Python process (its git children run on), the other
half kill the whole process group (git included, as a power cut would). Then the
next gitreg command (a read: ``gitreg model list``) runs, and the round checks:

- stale: ``git status`` shows changes under ``.mcp/`` after that command (the index or
  work tree still disagree with the branch, which the user's next commit would revert);
- lost: a version the writer reported as registered is gone without a recorded delete;
- reused: a version number was registered twice in the branch's history;
- check: ``gitreg check`` (every 20 rounds and at the end) finds a problem.

A git command killed while writing leaves a lock file (``.git/index.lock``, ``HEAD.lock``,
a ref's ``.lock``); git itself then refuses to commit until it is removed, so no stale
commit can happen through it.
Those rounds are counted apart, the lock is removed as git's own message says, and the
next command's result is checked the same way. An ``index.lock`` that gitreg's own in-process
index edit left (a hard link of its own file, see gitreg.git.index) is counted apart too and
left for the next gitreg command to remove. Prints one table; exit 1 on any failure.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("register", "stage", "metadata", "artifact", "delete", "card", "run")

WORKER = r'''
import os, sys, random
from gitreg import Client, Model, pipeline, step
kind, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
c = Client(".")

@step
def produce(x: int) -> int:
    return x * 2

@pipeline(model=Model(name="piped"))
def piped(x: int = 1) -> None:
    produce(x)

i = 0
while True:
    i += 1
    model = rng.choice(["a", "b"])
    if kind == "register":
        v = c.create_model_version(model)
        print("registered", model, v.number, flush=True)
    elif kind == "stage":
        versions = c.list_model_versions(model)
        v = rng.choice(versions)
        c.update_model_version(model, v.number, stage=rng.choice(["staging", "production", "archived"]), force=True)
    elif kind == "metadata":
        c.log_metadata(model, "latest", {"step": i, "acc": rng.random()})
    elif kind == "artifact":
        c.save_artifact(model, "latest", os.urandom(64), "blob")
    elif kind == "delete":
        v = c.create_model_version(model)
        print("registered", model, v.number, flush=True)
        c.delete_model_version(model, v.number)
        print("deleted", model, v.number, flush=True)
    elif kind == "card":
        c.update_model(model, description=f"card {i}")
    elif kind == "run":
        piped(x=i)
'''


@dataclass
class Tally:
    rounds: Counter = field(default_factory=Counter)
    stale: list = field(default_factory=list)
    lost: set = field(default_factory=set)
    reused: list = field(default_factory=list)
    check_failures: list = field(default_factory=list)
    locks_left: int = 0
    own_locks_left: int = 0
    recovered_lines: int = 0

    @property
    def ok(self) -> bool:
        return not (self.stale or self.lost or self.reused or self.check_failures)


def _git(repo: Path, *args: str) -> str:
    res = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout


def _gitreg(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitreg", *args], cwd=repo, capture_output=True, text=True)


def setup(root: Path) -> Path:
    from gitreg import Client

    repo = root / "registry"
    client = Client.init(repo, store=str(root / "store"))
    for model in ("a", "b", "piped"):
        client.create_model_version(model)
    (repo / "app.py").write_text("print('user code')\n")
    _git(repo, "add", "app.py")
    _git(repo, "commit", "-q", "-m", "user code")
    return repo


def _git_locks(repo: Path) -> list[Path]:
    """Lock files a killed git left (index, HEAD, refs, packed-refs); gitreg's own write lock is no such file."""
    git_dir = repo / ".git"
    found = [p for p in git_dir.glob("*.lock")] + list((git_dir / "refs").rglob("*.lock"))
    return [p for p in found if p.is_file()]


def _registered_twice(repo: Path) -> list[str]:
    added = _git(repo, "log", "--first-parent", "--diff-filter=A", "--name-only", "--format=", "HEAD", "--",
                 ".mcp/models")
    counts = Counter(p for p in added.splitlines() if re.fullmatch(r"\.mcp/models/[^/]+/versions/\d+\.yaml", p))
    return sorted(p for p, n in counts.items() if n > 1)


def _recorded_deletes(repo: Path) -> set[tuple[str, int]]:
    subjects = _git(repo, "log", "--format=%s", "HEAD").splitlines()
    out = set()
    for s in subjects:
        m = re.fullmatch(r"(\S+) v(\d+): delete version.*", s)
        if m:
            out.add((m.group(1), int(m.group(2))))
    return out


def stress(kills: int, seed: int, root: Path, progress: bool = False) -> Tally:
    rng = random.Random(seed)
    repo = setup(root)
    tally = Tally()
    reported: set[tuple[str, int]] = set()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for n in range(kills):
        kind = KINDS[n % len(KINDS)]
        whole_group = n % 2 == 1
        tally.rounds[kind] += 1
        proc = subprocess.Popen([sys.executable, "-c", WORKER, kind, str(rng.randrange(1 << 30))], cwd=repo,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
        time.sleep(rng.uniform(0.25, 0.9))
        if whole_group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        out, err = proc.communicate()
        if not whole_group:
            time.sleep(0.05)  # let orphaned git children finish, as they would
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "registered":
                reported.add((parts[1], int(parts[2])))
        if err.strip() and "Traceback" in err and "KeyboardInterrupt" not in err:
            last = err.strip().splitlines()[-1]
            if not last.startswith("Killed"):
                tally.check_failures.append(f"round {n} ({kind}): writer failed before the kill: {last}")
        for lock in _git_locks(repo):
            if any(os.path.samefile(lock, mine) for mine in lock.parent.glob(f"{lock.stem}.gitreg-*.tmp")):
                tally.own_locks_left += 1  # gitreg's in-process index edit: the next gitreg command removes it
                continue
            tally.locks_left += 1
            lock.unlink()  # what git's own message tells the user to do
        res = _gitreg(repo, "model", "list")
        if res.returncode != 0:
            tally.check_failures.append(f"round {n} ({kind}): `gitreg model list` exit {res.returncode}:"
                                        f" {res.stderr.strip()[-300:]}")
        tally.recovered_lines += "an earlier gitreg write was interrupted" in res.stderr
        status = _git(repo, "status", "--porcelain", "--", ".mcp")
        if status.strip():
            tally.stale.append(f"round {n} ({kind}, {'group' if whole_group else 'python'}): {status.strip()[:200]}")
            _git(repo, "restore", "--source=HEAD", "--staged", "--worktree", "--", ".mcp")
        present = {(p.parent.parent.name, int(p.stem)) for p in (repo / ".mcp" / "models").glob("*/versions/*.yaml")}
        deleted = _recorded_deletes(repo)
        tally.lost |= {v for v in reported - present if v not in deleted}
        tally.reused = _registered_twice(repo)
        if (n + 1) % 20 == 0 or n == kills - 1:
            res = _gitreg(repo, "check")
            if res.returncode != 0:
                tally.check_failures.append(f"round {n}: gitreg check exit {res.returncode}: {res.stdout[-400:]}"
                                            f"{res.stderr[-200:]}")
        if progress and (n + 1) % 20 == 0:
            print(f"  {n + 1}/{kills} rounds", file=sys.stderr)
    # the user's ordinary commit after all of it must not touch the registry
    (repo / "app.py").write_text("print('changed')\n")
    _git(repo, "add", "app.py")
    _git(repo, "commit", "-q", "-m", "user change")
    changed = _git(repo, "show", "--name-only", "--format=", "HEAD").split()
    if changed != ["app.py"]:
        tally.stale.append(f"the user's next commit touched {changed}")
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=216)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gitreg-crash-") as tmp:
        tally = stress(args.kills, args.seed, Path(tmp), progress=True)
    took = time.monotonic() - started
    print(f"crash stress: {args.kills} kill -9 (seed {args.seed}, {took:.0f} s), kinds: "
          + ", ".join(f"{k} {tally.rounds[k]}" for k in KINDS))
    print("| result | count |")
    print("|---|---|")
    print(f"| stale .mcp/ after the next command | {len(tally.stale)} |")
    print(f"| lost versions | {len(tally.lost)} |")
    print(f"| reused numbers | {len(tally.reused)} |")
    print(f"| `gitreg check` failures | {len(tally.check_failures)} |")
    print(f"| interrupted writes finished by the next command | {tally.recovered_lines} |")
    print(f"| git lock files left by a killed git (removed, as git says) | {tally.locks_left} |")
    print(f"| index.lock left by a killed gitreg's index edit (removed by the next gitreg command) |"
          f" {tally.own_locks_left} |")
    for line in tally.stale + sorted(map(str, tally.lost)) + tally.reused + tally.check_failures:
        print("  " + line)
    return 0 if tally.ok else 1


if __name__ == "__main__":
    sys.exit(main())
