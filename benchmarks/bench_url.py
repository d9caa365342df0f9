"""Registries opened by URL, beside plain git on the same remote, and a table of both.

    python benchmarks/bench_url.py                       # 1,000 models x 20 versions
    python benchmarks/bench_url.py --models 10000        # 10,000 x 20 (the fixture takes ~8 min to build)
    python benchmarks/bench_url.py --light               # the same with registration_tags: false
    python benchmarks/bench_url.py --writers 8 --per-writer 25

Builds (or reuses, under --fixtures) a registry of ``models x 20`` versions with every tag, as a bare
repository served over file://, then times what an ephemeral CI runner does, each beside what plain
git needs for the same on the same remote:

- first use: `gitreg --repo URL model version list M` with an empty cache, against
  `git clone --bare --no-tags --single-branch URL` (the remote serves blob-less clones, as the big
  git hosts do; `--no-filter` makes it refuse them);
- a write: registering a version in-process (a fetch when needed, the commit, the push of the commit
  and its tag), against pushing one new commit and one annotated tag from a clone (`git push --atomic`);
- a read within the freshness window (whole process);
- many writers: W runner processes, each with its own cache, registering K versions of one model
  (throughput, refused pushes retried, and a count of lost or duplicate numbers: must be 0).

Timings are medians of --runs repetitions on whatever machine runs it; rerun to compare.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_registry import build  # noqa: E402

RUNNER = r"""
import json, os, sys, time
from gitreg import Client
from gitreg import remote as remote_mod

refused = 0
real = remote_mod.Remote.push_branch

def counting(self, *args, **kwargs):
    global refused
    ok = real(self, *args, **kwargs)
    refused += 0 if ok else 1
    return ok

remote_mod.Remote.push_branch = counting
url, model, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = Client(url)
numbers = []
start = time.perf_counter()
for _ in range(count):
    numbers.append(client.create_model_version(model).number)
print(json.dumps({"numbers": numbers, "refused": refused, "seconds": time.perf_counter() - start}))
"""


def sh(*cmd: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=True)


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fixture(fixtures: Path, models: int, light: bool) -> Path:
    """A bare repository holding the registry (built once, then copied for each run)."""
    name = f"hub{models}{'-light' if light else ''}.git"
    hub = fixtures / name
    if hub.exists():
        return hub
    src = fixtures / f"src{models}"
    if not (src / ".mcp").exists():
        print(f"building the {models} x 20 fixture in {src} (once) ...", file=sys.stderr)
        build(src, models, 20)
    tmp = fixtures / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    sh("git", "clone", "-q", "--bare", str(src), str(tmp))
    if light:  # what a registry with registration_tags: false holds: stage tags only
        work = fixtures / ".light-work"
        shutil.rmtree(work, ignore_errors=True)
        sh("git", "clone", "-q", str(tmp), str(work))
        with open(work / ".mcp/registry.yaml", "a", encoding="utf-8") as fh:
            fh.write("registration_tags: false\n")
        sh("git", "commit", "-qam", "registry: tag stage changes only", cwd=work)
        sh("git", "push", "-q", "origin", "HEAD", cwd=work)
        shutil.rmtree(work)
        tags = sh("git", "for-each-ref", "--format=%(refname)", "refs/tags/", cwd=tmp).stdout.split()
        doomed = "".join(f"delete {t}\n" for t in tags if re.fullmatch(r"v[0-9]+", t.rsplit("/", 1)[-1]))
        subprocess.run(["git", "update-ref", "--stdin"], cwd=tmp, input=doomed, text=True, check=True)
        sh("git", "pack-refs", "--all", cwd=tmp)
    sh("git", "gc", "-q", cwd=tmp)
    tmp.rename(hub)
    return hub


def plain_push(clone: Path, n: int) -> None:
    """One new commit on main and one annotated tag, pushed atomically, as plain git does it."""
    tree = sh("git", "rev-parse", "HEAD^{tree}", cwd=clone).stdout.strip()
    commit = sh("git", "commit-tree", tree, "-p", "HEAD", "-m", f"plain write {n}", cwd=clone).stdout.strip()
    sh("git", "tag", "-a", "-m", f"plain {n}", f"bench/plain/{n}", commit, cwd=clone)
    branch = sh("git", "symbolic-ref", "HEAD", cwd=clone).stdout.strip()
    sh("git", "push", "-q", "--atomic", "origin", f"{commit}:{branch}", f"refs/tags/bench/plain/{n}", cwd=clone)
    sh("git", "update-ref", branch, commit, cwd=clone)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--light", action="store_true", help="registration_tags: false (stage tags only)")
    parser.add_argument("--no-filter", action="store_true",
                        help="serve as a git host that refuses filtered (blob-less) clones")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--per-writer", type=int, default=25)
    parser.add_argument("--fixtures", type=Path, default=Path(tempfile.gettempdir()) / "gitreg-bench-url",
                        help="where fixtures are built once and kept")
    args = parser.parse_args()
    args.fixtures.mkdir(parents=True, exist_ok=True)
    source = fixture(args.fixtures, args.models, args.light)
    gitreg = shutil.which("gitreg") or str(Path(sys.executable).parent / "gitreg")
    scratch = Path(tempfile.mkdtemp(prefix="gitreg-bench-url-"))
    rows: list[tuple[str, float, float | None, str]] = []
    try:
        hub = scratch / "hub.git"
        shutil.copytree(source, hub, symlinks=True)
        url = f"file://{hub}"
        # GitHub, GitLab and Bitbucket serve blob-less clones; a bare repository does when told to
        sh("git", "config", "uploadpack.allowFilter", "false" if args.no_filter else "true", cwd=hub)
        tags = len(sh("git", "for-each-ref", "--format=x", "refs/tags/", cwd=hub).stdout.split())
        model = "m5"
        env = dict(os.environ, GITREG_FRESHNESS="5")
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its bytecode


        # first use: an empty cache, against plain git's narrowest clone of the branch
        def gitreg_first() -> None:
            cache = scratch / "first-cache"
            shutil.rmtree(cache, ignore_errors=True)
            sh(gitreg, "--repo", url, "model", "version", "list", model, "-o", "json",
               env=dict(env, GITREG_CACHE_DIR=str(cache)))

        def git_first() -> None:
            dest = scratch / "plain-first.git"
            shutil.rmtree(dest, ignore_errors=True)
            sh("git", "clone", "-q", "--bare", "--no-tags", "--single-branch", url, str(dest))

        gitreg_first()  # untimed: writes gitreg's bytecode once, as installing a package does
        g_first, p_first = [], []
        for _ in range(args.runs):  # alternate, so both see the same machine
            p_first.append(timed(git_first, 1))
            g_first.append(timed(gitreg_first, 1))
        rows.append(("first use (clone) + one read", statistics.median(g_first), statistics.median(p_first),
                     "git clone --bare --no-tags --single-branch"))

        # a write: in-process registration against a plain push of one commit and one tag
        os.environ["GITREG_CACHE_DIR"] = str(scratch / "runner-cache")
        from gitreg import Client

        client = Client(url)
        client.create_model_version(model)  # warm: the clone exists
        plain = scratch / "plain-clone"
        sh("git", "clone", "-q", "--no-tags", "--single-branch", url, str(plain))
        g_write, p_write = [], []
        for n in range(args.runs):
            p_write.append(timed(functools.partial(plain_push, plain, n), 1))
            client = Client(url)  # a new process would open it like this (within the freshness window)
            client.refresh()  # untimed: the plain push above moved the remote, as nobody else does between two timings
            g_write.append(timed(functools.partial(client.create_model_version, model), 1))
            sh("git", "fetch", "-q", "--no-tags", "origin", "HEAD", cwd=plain)
            sh("git", "reset", "-q", "--soft", "FETCH_HEAD", cwd=plain)
        rows.append(("write: register one version (push of commit + tag)", statistics.median(g_write),
                     statistics.median(p_write), "git push --atomic of one commit and one tag"))

        read = timed(lambda: sh(gitreg, "--repo", url, "model", "version", "list", model, "-o", "json",
                                env=dict(env, GITREG_CACHE_DIR=str(scratch / "runner-cache"), GITREG_FRESHNESS="3600")),
                     args.runs)
        rows.append(("read within the freshness window (whole process)", read, None, ""))

        # many writers, each its own runner (own cache), one model
        if args.writers and args.per_writer:
            target = "shared"
            procs = []
            start = time.perf_counter()
            for w in range(args.writers):
                procs.append(subprocess.Popen(
                    [sys.executable, "-c", RUNNER, url, target, str(args.per_writer)],
                    env=dict(os.environ, GITREG_CACHE_DIR=str(scratch / f"writer-{w}")),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            results = []
            for proc in procs:
                out, err = proc.communicate()
                if proc.returncode != 0:
                    raise SystemExit(f"a writer failed: {err.strip()[-2000:]}")
                results.append(json.loads(out.strip().splitlines()[-1]))
            wall = time.perf_counter() - start
            numbers = sorted(n for r in results for n in r["numbers"])
            total = args.writers * args.per_writer
            remote_tags = sh("git", "tag", "-l", f"models/{target}/v*", cwd=hub).stdout.split()
            expected = list(range(1, total + 1))
            lost = len(set(expected) - set(numbers))
            dupes = len(numbers) - len(set(numbers))
            on_remote = sorted(int(t.rsplit("/v", 1)[1]) for t in remote_tags)
            tag_note = "" if args.light else f", remote tags 1..{total}: {'yes' if on_remote == expected else 'NO'}"
            refused = sum(r["refused"] for r in results)
            rows.append((f"{args.writers} writers x {args.per_writer} registrations: {total / wall:.1f}/s,"
                         f" {refused} refused pushes retried, lost {lost}, duplicates {dupes}{tag_note}",
                         wall, None, ""))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    git_version = sh("git", "--version").stdout.strip()
    print(f"\nregistries by URL: {args.models:,} models x 20 versions, {tags:,} tags on the remote"
          f"{' (registration_tags: false)' if args.light else ''}; file:// remote"
          f"{' refusing filtered clones' if args.no_filter else ' serving blob-less clones'}, {git_version},"
          f" {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}\n")
    print("| what | gitreg | plain git | gitreg / git | plain git does |")
    print("|---|---|---|---|---|")
    for what, ours, theirs, how in rows:
        ratio = f"{ours / theirs:.2f}" if theirs else ""
        print(f"| {what} | {ours:.2f} s | {f'{theirs:.2f} s' if theirs else ''} | {ratio} | {how} |")


if __name__ == "__main__":
    main()
