"""Benchmark gitreg on a large registry and print a table.

    python benchmarks/bench_registry.py                # 1,000 models x 20 versions, 512 MiB artifact
    python benchmarks/bench_registry.py --models 100 --versions 20 --artifact-mib 64

Builds a scratch registry (fast-import: one commit, every registration tag
and one production tag per model), then times what users do: a fresh process
resolving a stage, `gitreg --help`, listing versions, registering versions
in-process, storing a large artifact against `cp` + `sha256sum`,
`gitreg check` of the whole registry, a model's history among all the tags, and
the same registry used by URL through a bare repository (clone, reads, writes).
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

from gitreg import Client
from gitreg.layout import model_file, name_claim_file, stages_file, version_file
from gitreg.manifests import Counters, ModelManifest, StageHolders, VersionManifest, dump_yaml
from gitreg.tagnames import StageTagMessage, format_stage_message, format_version_message

PRODUCTION = 15  # the version of every model that is in production


def _data(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return b"data %d\n" % len(raw) + raw + b"\n"


def index_floor(repo: Path, runs: int) -> float:
    """Median time git itself needs to put one changed file into this work tree's index (a write's
    own index update does the same: git rewrites the whole index file for it)."""
    probe = repo / "gitreg-floor-probe.txt"
    times = []
    for i in range(runs):
        probe.write_text(f"{i}\n")  # new content each time: a new blob for the entry
        t0 = time.perf_counter()
        subprocess.run(["git", "update-index", "--add", "--remove", "-z", "--stdin"], cwd=repo, check=True,
                       input=b"gitreg-floor-probe.txt\0")
        times.append(time.perf_counter() - t0)
    probe.unlink()
    subprocess.run(["git", "update-index", "--remove", "gitreg-floor-probe.txt"], cwd=repo, check=True)
    return statistics.median(times)


def build(root: Path, models: int, versions: int) -> None:
    """A registry with ``models`` x ``versions`` manifests and all their tags."""
    Client.init(root)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                          check=True).stdout.strip()
    branch = subprocess.run(["git", "symbolic-ref", "HEAD"], cwd=root, capture_output=True, text=True,
                            check=True).stdout.strip()
    stamp = "2026-01-01T00:00:00Z"
    out = bytearray()
    out += f"commit {branch}\nmark :1\n".encode()
    out += b"committer Bench <bench@example.invalid> 1767225600 +0000\n"
    out += _data(f"bench: {models} models x {versions} versions")
    out += f"from {head}\n".encode()
    for m in range(1, models + 1):
        name = f"m{m}"
        card = ModelManifest(name=name, created=stamp, description=f"benchmark model {m}",
                             counters=Counters(versions=versions, production=1))
        out += f"M 100644 inline {model_file(name)}\n".encode() + _data(dump_yaml(card.to_dict()))
        # registry format 2: the model's name claim, and its production holder in stages.yaml
        out += f"M 100644 inline {name_claim_file(name)}\n".encode() + _data(dump_yaml({"model": name}))
        holders = StageHolders(production=PRODUCTION if versions >= PRODUCTION else None)
        out += f"M 100644 inline {stages_file(name)}\n".encode() + _data(dump_yaml(holders.to_dict()))
        for n in range(1, versions + 1):
            v = VersionManifest(model=name, number=n, name=str(n), created=stamp,
                                stage="production" if n == PRODUCTION else "none",
                                metadata={"accuracy": round(0.5 + n / (2 * versions), 4), "epoch": n})
            out += f"M 100644 inline {version_file(name, n)}\n".encode() + _data(dump_yaml(v.to_dict()))
    out += b"\n"
    tagger = b"tagger Bench <bench@example.invalid> 1767225600 +0000\n"
    for m in range(1, models + 1):
        name = f"m{m}"
        for n in range(1, versions + 1):
            out += f"tag models/{name}/v{n}\nfrom :1\n".encode() + tagger
            out += _data(format_version_message(name, n, str(n)))
        if versions >= PRODUCTION:
            msg = StageTagMessage(model=name, number=PRODUCTION, stage="production", previous_stage="none")
            out += f"tag models/{name}/production/1\nfrom :1\n".encode() + tagger + _data(format_stage_message(msg))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=bytes(out), check=True)
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=root, check=True)
    subprocess.run(["git", "pack-refs", "--all"], cwd=root, check=True)
    subprocess.run(["git", "gc", "-q"], cwd=root, check=True)


def timed(cmd: list[str], cwd: Path, runs: int) -> tuple[float, str]:
    # Whole processes run as an installed package runs: with its modules' bytecode (written by the first
    # run here if missing; on a machine that sets PYTHONDONTWRITEBYTECODE every run would compile them).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = []
    output = ""
    for _ in range(runs):
        start = time.perf_counter()
        res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - start)
        if res.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {res.stderr}")
        output = res.stdout
    return statistics.median(times), output


def artifact_throughput(root: Path, mib: int) -> tuple[float, float]:
    """(gitreg MiB/s, cp+sha256sum MiB/s) for a file of ``mib`` MiB of random bytes."""
    src = root.parent / "big.bin"
    with open(src, "wb") as fh:
        for _ in range(mib):
            fh.write(os.urandom(1 << 20))
    dst = root.parent / "copy.bin"
    subprocess.run(["cp", str(src), str(dst)], check=True)  # warm the page cache
    os.unlink(dst)
    start = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    subprocess.run(["sha256sum", str(src)], check=True, capture_output=True)
    baseline = time.perf_counter() - start
    os.unlink(dst)
    client = Client(root)
    v = client.create_model_version("big")
    start = time.perf_counter()
    client.add_artifact("big", v.number, str(src), "weights", type="model")
    ours = time.perf_counter() - start
    os.unlink(src)
    return mib / ours, mib / baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--artifact-mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5, help="repetitions per timing (median reported)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch registry")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="gitreg-bench-"))
    root = scratch / "registry"
    root.mkdir()
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    env_note = f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {git_version}"
    load_at_start = os.getloadavg()[0]  # a shared machine: the figures depend on what else runs
    try:
        start = time.perf_counter()
        build(root, args.models, args.versions)
        build_s = time.perf_counter() - start
        mid = f"m{max(1, args.models // 2)}"
        gitreg = shutil.which("gitreg") or str(Path(sys.executable).with_name("gitreg"))
        rows = []

        probe = [sys.executable, "-c", f"from gitreg import Model; print(Model({mid!r}, version='production').number)"]
        cold, out = timed(probe, root, 1)
        assert out.strip() == str(PRODUCTION), out
        warm, _ = timed(probe, root, args.runs)
        rows.append((f"fresh process: Model({mid!r}, 'production').number, first run (cache cold)", cold, None))
        rows.append((f"fresh process: Model({mid!r}, 'production').number", warm, 0.3))
        for cmd in ([gitreg, "--help"], [gitreg, "model", "version", "list", mid]):
            timed(cmd, root, 1)  # untimed: writes the bytecode of the modules this command imports
        rows.append(("`gitreg --help`", timed([gitreg, "--help"], root, args.runs)[0], 0.15))
        rows.append((f"`gitreg model version list {mid}`",
                     timed([gitreg, "model", "version", "list", mid], root, args.runs)[0], 0.15))

        client = Client(root)
        samples = max(args.runs * 12, 60)
        for _ in range(3):  # warm-up: first writes fill caches and start git helpers
            client.create_model_version(mid)
        reg_times = []
        for i in range(samples):
            t0 = time.perf_counter()
            client.create_model_version(mid, metadata={"accuracy": 0.9, "run": i})
            reg_times.append(time.perf_counter() - t0)
        rows.append((f"register one version with metadata, in-process (median of {len(reg_times)})",
                     statistics.median(reg_times), None))
        stage_times = []
        for i in range(samples):
            t0 = time.perf_counter()
            client.update_model_version(mid, (i % args.versions) + 1, stage="staging", force=True)
            stage_times.append(time.perf_counter() - t0)
        rows.append((f"set a stage (force), in-process (median of {len(stage_times)})",
                     statistics.median(stage_times), None))
        floor = index_floor(root, samples)
        rows.append(("  git's own floor: `git update-index` of one changed file here (rewrites the whole index)",
                     floor, None))
        rows.append(("  register minus that floor", statistics.median(reg_times) - floor, None))
        rows.append(("  set a stage minus that floor", statistics.median(stage_times) - floor, None))

        small = scratch / "small"
        small.mkdir()
        build(small, 10, args.versions)
        small_client = Client(small)
        for _ in range(3):
            small_client.create_model_version("m5")
        small_times = []
        for i in range(samples):
            t0 = time.perf_counter()
            small_client.create_model_version("m5", metadata={"accuracy": 0.9, "run": i})
            small_times.append(time.perf_counter() - t0)
        rows.append(("  same, in a registry of 10 models (for comparison)", statistics.median(small_times), None))
        # Attribute the difference: the same 10 models beside as many unrelated tracked files
        # as the large registry has manifests (git's index then has the same size).
        for i in range(args.models * args.versions):
            folder = small / "src" / f"pkg{i // 100}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"mod{i % 100}.py").write_text(f"x = {i}\n")
        subprocess.run(["git", "add", "src"], cwd=small, check=True)
        subprocess.run(["git", "commit", "-qm", "code"], cwd=small, check=True)
        small_times = []
        for i in range(samples):
            t0 = time.perf_counter()
            small_client.create_model_version("m5", metadata={"accuracy": 0.9, "run": i})
            small_times.append(time.perf_counter() - t0)
        rows.append((f"  same, 10 models beside {args.models * args.versions} other tracked files",
                     statistics.median(small_times), None))

        shutil.rmtree(root / ".git" / "gitreg" / "cache", ignore_errors=True)
        check_s, _ = timed([gitreg, "check"], root, 1)
        rows.append((f"`gitreg check` ({args.models * args.versions} versions, all tags), cache cold", check_s, 10.0))
        rows.append(("`gitreg check` again (validated trees cached)", timed([gitreg, "check"], root, args.runs)[0],
                     None))

        tags = len(subprocess.run(["git", "tag", "-l"], cwd=root, capture_output=True, text=True).stdout.split())
        rows.append((f"`gitreg model version history {mid}` ({tags} tags in the repository)",
                     timed([gitreg, "model", "version", "history", mid], root, args.runs)[0], 1.0))
        rows.append(("`gitreg tags sync` (nothing missing)", timed([gitreg, "tags", "sync"], root, args.runs)[0], None))

        # The same registry shared through a bare repository, used by URL (file://).
        hub = scratch / "hub.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(root), str(hub)], check=True)
        url = f"file://{hub}"
        cache = scratch / "cache"
        os.environ["GITREG_CACHE_DIR"] = str(cache)
        listing = [gitreg, "--repo", url, "model", "version", "list", mid]
        rows.append(("by URL: first `model version list` (clones the registry)", timed(listing, scratch, 1)[0], None))
        rows.append(("by URL: `model version list` within the freshness window",
                     timed(listing, scratch, args.runs)[0], None))
        os.environ["GITREG_FRESHNESS"] = "0"
        rows.append(("by URL: `model version list`, fetching first", timed(listing, scratch, args.runs)[0], None))
        remote_client = Client(url)
        url_times = []
        for i in range(max(args.runs * 4, 20)):
            t0 = time.perf_counter()
            remote_client.create_model_version(mid, metadata={"run": i})
            url_times.append(time.perf_counter() - t0)
        rows.append((f"by URL: register one version (fetch, commit, push commit and tag; median of {len(url_times)})",
                     statistics.median(url_times), None))
        # A registry opened by URL is a cached clone with no work tree and no index. The same writes on that
        # clone, with its push left out, are what gitreg itself costs there (the push is the host's cost:
        # git's advertisement of every ref, see bench_url.py).
        from gitreg.registry import Registry

        unpushed = Client(registry=Registry(remote_client.registry.repo))
        for i in range(3):
            unpushed.create_model_version(mid)
            unpushed.update_model_version(mid, i + 1, stage="staging", force=True)
        bare_reg, bare_stage = [], []
        for i in range(samples):
            t0 = time.perf_counter()
            unpushed.create_model_version(mid, metadata={"accuracy": 0.9, "run": i})
            bare_reg.append(time.perf_counter() - t0)
        for i in range(samples):
            t0 = time.perf_counter()
            unpushed.update_model_version(mid, (i % args.versions) + 1, stage="staging", force=True)
            bare_stage.append(time.perf_counter() - t0)
        target = 0.010 if args.models * args.versions <= 20_000 else 0.025
        rows.append((f"by URL: register, in-process, its push left out (no work tree; median of {samples})",
                     statistics.median(bare_reg), target))
        rows.append((f"by URL: set a stage (force), in-process, its push left out (median of {samples})",
                     statistics.median(bare_stage), target))
        del os.environ["GITREG_FRESHNESS"], os.environ["GITREG_CACHE_DIR"]

        ours, base = artifact_throughput(root, args.artifact_mib)

        print(f"\ngitreg benchmark: {args.models} models x {args.versions} versions"
              f" ({args.models * args.versions} manifests), {env_note}; built in {build_s:.1f} s;"
              f" load average {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end\n")
        print("| operation | time | target |")
        print("|---|---:|---:|")
        for label, seconds, target in rows:
            verdict = "" if target is None else (f"<= {target:g} s " + ("ok" if seconds <= target else "MISSED"))
            print(f"| {label} | {seconds * 1000:.0f} ms | {verdict} |")
        ratio = ours / base
        print(f"| save a {args.artifact_mib} MiB artifact | {ours:.0f} MiB/s ({ratio:.0%} of cp + sha256sum at"
              f" {base:.0f} MiB/s) | >= 70% {'ok' if ratio >= 0.7 else 'MISSED'} |")
    finally:
        if args.keep:
            print(f"\nkept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
