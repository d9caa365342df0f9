"""Garbage collection and pipeline runs in progress: a live run's outputs stay, a dead run's go.

A real pipeline runs in a subprocess and waits in its second step, after its first
step stored an output; the test collects garbage meanwhile, then lets the run finish
or kills it with SIGKILL.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from conftest import git
from gitreg import Client, Model
from gitreg.cli.app import main
from gitreg.gc import collect
from gitreg.pipelines.liveness import STALE_SECONDS, RunLiveness, RunMarker, this_host

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

TWO_HOURS = 2 * 3600

SCRIPT = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from typing import Annotated
    from gitreg import Model, pipeline, step

    go_on = Path(sys.argv[1])

    @step
    def train() -> Annotated[bytes, "weights"]:
        return sys.argv[2].encode()

    @step
    def evaluate(weights: bytes) -> None:
        print("waiting", flush=True)
        deadline = time.time() + 120
        while not go_on.exists():
            if time.time() > deadline:
                raise SystemExit("never told to go on")
            time.sleep(0.02)

    @pipeline(model=Model("iris"))
    def training():
        evaluate(train())

    result = training()
    print(result.status, result.id, flush=True)
''')


class LongRun:
    """A pipeline run in another process, stopped in its second step until told to go on."""

    def __init__(self, repo: Path, tmp_path: Path) -> None:
        self.content = f"weights {uuid.uuid4().hex}".encode()
        self.sha = hashlib.sha256(self.content).hexdigest()
        name = uuid.uuid4().hex[:8]
        script = tmp_path / f"long_run_{name}.py"
        script.write_text(SCRIPT)
        self.go_on = tmp_path / f"go_on_{name}"
        self.stderr = tmp_path / f"stderr_{name}"
        with open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, str(script), str(self.go_on), self.content.decode()],
                                         cwd=repo, stdout=subprocess.PIPE, stderr=err, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        assert line == "waiting\n", self.failure()

    def failure(self) -> str:
        return f"the pipeline process failed: {self.stderr.read_text()}"

    def finish(self) -> str:
        self.go_on.touch()
        out, _ = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, self.failure()
        status, run_id = out.split()
        assert status == "completed"
        return run_id

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc.stdout.close()  # type: ignore[union-attr]
        assert self.proc.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill()


@pytest.fixture
def long_runs(repo, tmp_path):
    started: list[LongRun] = []

    def start() -> LongRun:
        started.append(LongRun(repo, tmp_path))
        return started[-1]

    yield start
    for run in started:
        run.stop()


def _markers(client) -> list[RunMarker]:
    return [RunMarker.from_bytes(m.data) for m in client.registry.store().run_markers()]


def _age(repo: Path, sha: str, seconds: float) -> Path:
    path = repo / ".gitreg/store/objects/sha256" / sha[:2] / sha[2:]
    past = time.time() - seconds
    os.utime(path, (past, past))
    return path


def _lock_files(repo: Path) -> list[Path]:
    return sorted((repo / ".git/gitreg/runs").glob("*.lock"))


# ---------------------------------------------------------------- local store

def test_outputs_of_a_running_pipeline_are_kept_whatever_their_age(repo, client, long_runs):
    run = long_runs()
    [marker] = _markers(client)
    assert marker.objects == (run.sha,) and marker.host == this_host() and marker.pid == run.proc.pid
    stored = _age(repo, run.sha, TWO_HOURS)  # a step that ended two hours ago, the run still going

    report = client.collect_garbage(dry_run=False)
    assert report.removed == () and stored.exists()
    assert (report.alive, report.live_runs, report.dead_runs) == (1, (marker.run,), ())

    run_id = run.finish()
    assert run_id == marker.run
    assert _markers(client) == [] and _lock_files(repo) == []  # a recorded run leaves nothing behind
    assert Model("iris", 1).load_artifact("weights") == run.content
    report = client.collect_garbage(dry_run=False, grace_seconds=0)
    assert report.removed == () and (report.kept, report.alive, report.live_runs) == (1, 0, ())


def test_outputs_of_a_killed_pipeline_become_collectable(repo, client, long_runs):
    run = long_runs()
    [marker] = _markers(client)
    run.kill()
    assert [m.run for m in _markers(client)] == [marker.run]  # a killed process cleans nothing up

    # dead at once (its lock is free), and its object is an unreferenced one like any other:
    # inside the grace period it stays
    report = client.collect_garbage(dry_run=False)
    assert (report.removed, report.young, report.alive) == ((), 1, 0)
    assert report.dead_runs == (marker.run,) and _markers(client) == [] and _lock_files(repo) == []

    stored = _age(repo, run.sha, TWO_HOURS)
    report = client.collect_garbage(dry_run=False)
    assert [Path(p) for p in report.removed] == [stored] and not stored.exists()
    assert client.list_runs() == []  # the run was never recorded


def test_gc_cli_reports_live_runs_and_dead_markers(repo, client, long_runs, capsys):
    live, dead = long_runs(), long_runs()
    dead_id = next(m.run for m in _markers(client) if m.objects == (dead.sha,))
    dead.kill()
    _age(repo, live.sha, TWO_HOURS)
    _age(repo, dead.sha, TWO_HOURS)
    assert main(["artifact", "gc"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"would remove {repo / '.gitreg/store/objects/sha256' / dead.sha[:2] / dead.sha[2:]}",
                                f"would remove the marker of run {dead_id} (its process died; its objects"
                                " count as unreferenced)"]
    assert "1 written by 1 running pipeline(s) kept" in err and "pass --yes" in err
    assert main(["artifact", "gc", "--yes"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1].startswith(f"removed the marker of run {dead_id}") and "removed 1" in err
    live.finish()
    assert Model("iris", 1).load_artifact("weights") == live.content


def _foreign_marker(client, sha: str, heartbeat: float, lock: str = "/home/ci/repo/.git/gitreg/runs/x.lock",
                    host: str = "build-agent-7", run: str = "training-20261201T000000-0a1b2c3d") -> str:
    marker = RunMarker(run, "training", host, 4242, lock.replace("x.lock", f"{run}.lock"),
                       heartbeat - 60, heartbeat, (sha,))
    client.registry.store().write_run_marker(run, marker.to_bytes())
    return run


def test_a_run_on_another_machine_is_judged_by_its_heartbeat(repo, client):
    orphan = client.registry.store().put_bytes(b"output of a step on another machine")
    _age(repo, orphan.sha256, TWO_HOURS)
    run = _foreign_marker(client, orphan.sha256, time.time() - 60)
    report = client.collect_garbage(dry_run=False)
    assert report.removed == () and (report.alive, report.live_runs) == (1, (run,))

    # silent for longer than STALE_SECONDS: that machine is gone
    silent = time.time() - STALE_SECONDS - 60
    _foreign_marker(client, orphan.sha256, silent)
    os.utime(repo / ".gitreg/store/runs" / f"{run}.json", (silent, silent))
    report = client.collect_garbage(dry_run=True)
    assert (report.alive, report.dead_runs) == (0, (run,))
    assert [p.endswith(orphan.sha256[2:]) for p in report.removed] == [True]
    report = client.collect_garbage(dry_run=False)
    assert len(report.removed) == 1 and _markers(client) == []


def test_a_marker_never_makes_gc_open_or_delete_other_files(repo, client, tmp_path):
    """The store may be writable by others: a marker's lock path must not be trusted."""
    victim = tmp_path / "precious.txt"
    victim.write_text("not a lock")
    orphan = client.registry.store().put_bytes(b"x")
    _age(repo, orphan.sha256, TWO_HOURS)
    old = time.time() - STALE_SECONDS - 60
    run = "training-20261201T000000-deadbeef"
    marker = RunMarker(run, "training", this_host(), 1, str(victim), old, old, (orphan.sha256,))
    client.registry.store().write_run_marker(run, marker.to_bytes())
    os.utime(repo / ".gitreg/store/runs" / f"{run}.json", (old, old))
    report = client.collect_garbage(dry_run=False)
    assert report.dead_runs == (run,) and len(report.removed) == 1  # judged by its age, not by that file
    assert victim.read_text() == "not a lock"


def test_heartbeat_refreshes_the_marker_in_the_background(repo, client):
    store = client.registry.store()
    alive = RunLiveness(store, "p-20261201T000000-00000000", "p", repo / ".git/gitreg/runs", interval=0.05)
    sha = store.put_bytes(b"an output").sha256
    alive.wrote(sha)
    [first] = _markers(client)
    assert first.objects == (sha,) and Path(first.lock).is_file()
    deadline = time.time() + 10
    while _markers(client)[0].heartbeat == first.heartbeat:
        assert time.time() < deadline, "no heartbeat"
        time.sleep(0.02)
    assert collect(client.registry, dry_run=True, grace_seconds=0).live_runs == (first.run,)
    alive.close()
    alive.close()
    assert _markers(client) == [] and not Path(first.lock).exists()


def test_a_run_without_outputs_never_touches_the_store(repo, client):
    from gitreg import pipeline, step

    @step
    def nothing() -> None:
        return None

    @pipeline
    def empty():
        nothing()

    assert empty().status == "completed"
    assert not (repo / ".gitreg/store/runs").exists() and _lock_files(repo) == []


# ---------------------------------------------------------------- S3 store (a real S3 server)

def _use_s3(client, s3_endpoint) -> str:
    from gitreg.manifests import RegistryConfig, dump

    prefix = f"s3://models/{uuid.uuid4().hex}"
    config = RegistryConfig(store=prefix, tag_prefix="models",
                            options={"storage_options": {"client_kwargs": {"endpoint_url": s3_endpoint}}})
    root = client.registry.root
    (root / ".mcp/registry.yaml").write_bytes(dump("registry", config, "registry.yaml"))
    git(root, "commit", "-qam", f"use store {prefix}")
    return prefix


def test_s3_store_running_run_kept_killed_run_collected(repo, client, s3_endpoint, long_runs):
    prefix = _use_s3(client, s3_endpoint)
    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint})
    run = long_runs()
    [marker] = _markers(client)
    assert marker.objects == (run.sha,) and fs.exists(f"{prefix}/runs/{marker.run}.json")
    report = Client(repo).collect_garbage(dry_run=False, grace_seconds=0)  # any age counts as old
    assert report.removed == () and (report.alive, report.live_runs) == (1, (marker.run,))
    run.finish()
    fs.invalidate_cache()
    assert fs.find(f"{prefix}/runs") == [] and _markers(client) == []
    assert Model("iris", 1).load_artifact("weights") == run.content

    doomed = long_runs()
    doomed.kill()
    report = Client(repo).collect_garbage(dry_run=False, grace_seconds=0)
    assert [p.endswith(doomed.sha[2:]) for p in report.removed] == [True] and len(report.dead_runs) == 1
    assert _markers(client) == [] and not fs.exists(f"{prefix}/objects/sha256/{doomed.sha[:2]}/{doomed.sha[2:]}")
    assert Model("iris", 1).load_artifact("weights") == run.content


def test_s3_store_marker_of_another_machine(repo, client, s3_endpoint):
    _use_s3(client, s3_endpoint)
    orphan = client.registry.store().put_bytes(b"output of a step on another machine")
    run = _foreign_marker(client, orphan.sha256, time.time())
    report = collect(client.registry, dry_run=False, grace_seconds=0, stale_seconds=3)
    assert report.removed == () and report.live_runs == (run,)
    time.sleep(3.5)  # no heartbeat since: the marker (by its own stamp and the store's time) is stale
    report = collect(client.registry, dry_run=False, grace_seconds=0, stale_seconds=3)
    assert report.dead_runs == (run,) and len(report.removed) == 1 and _markers(client) == []


def test_a_failed_run_is_recorded_and_leaves_no_marker(repo, client):
    from typing import Annotated

    from gitreg import pipeline, step

    seen: list = []

    @step
    def make() -> Annotated[bytes, "partial"]:
        return b"written before the failure"

    @step
    def explode(data: bytes) -> None:
        seen.extend(_markers(client))
        raise RuntimeError("boom")

    @pipeline(model=Model("iris"))
    def failing():
        explode(make())

    with pytest.raises(RuntimeError):
        failing()
    [marker] = seen  # alive while it ran
    assert client.get_run(marker.run).status == "failed"
    assert _markers(client) == [] and _lock_files(repo) == []
    assert client.collect_garbage(dry_run=False, grace_seconds=0).removed == ()
