"""The local write path: what a write stores for later reads, what it reads again, and the processes it runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Annotated

import pytest

from conftest import git
from gitreg import Client, Model, pipeline, step
from gitreg.errors import GitError

ROOT = Path(__file__).resolve().parents[1]


def fresh_process(repo: Path, code: str) -> str:
    """Run ``code`` in a new Python process (nothing remembered in memory) and return what it prints."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=repo, capture_output=True, text=True,
                         env=env, timeout=120, check=True)
    return res.stdout.strip()


def cache_entry(client: Client, model: str) -> dict:
    from gitreg.layout import model_path
    from gitreg.state.cache import cache_get

    repo = client.registry.repo
    tree = repo.resolve(f"HEAD:{model_path(model)}")
    entry = cache_get(repo, tree, "model-cache")
    assert isinstance(entry, dict)
    return entry


def listed_in_fresh_process(repo: Path, model: str) -> list:
    out = fresh_process(repo, f"""
        import json
        from gitreg import Client
        print(json.dumps([[v.number, v.name, dict(v.metadata)] for v in Client('.').list_model_versions({model!r})]))
    """)
    return json.loads(out)


# ---------------------------------------------------------------- the model cache a write leaves behind

@pytest.mark.fastpath_only("model-cache")
def test_a_write_caches_only_what_it_changed_and_a_fresh_process_reads_the_whole_model(client, repo):
    for i in range(12):
        client.create_model_version("m", metadata={"i": i})
    client.log_metadata("m", 3, {"late": True})
    entry = cache_entry(client, "m")
    # a delta on the entry the write started from: the one version it rewrote, not all twelve
    assert isinstance(entry.get("base"), str) and [d["number"] for d in entry["set"]] == [3]
    assert entry["drop"] == [] and entry["model"] is None
    expected = [[n, str(n), {"i": n - 1, **({"late": True} if n == 3 else {})}] for n in range(1, 13)]
    assert listed_in_fresh_process(repo, "m") == expected
    assert [[v.number, v.name, dict(v.metadata)] for v in client.list_model_versions("m")] == expected


@pytest.mark.fastpath_only("model-cache")
def test_a_delete_is_a_delta_too_and_reads_back(client, repo):
    for _ in range(4):
        client.create_model_version("m")
    client.delete_model_version("m", 2)
    entry = cache_entry(client, "m")
    assert entry["drop"] == [2] and entry["set"] == []
    assert [row[0] for row in listed_in_fresh_process(repo, "m")] == [1, 3, 4]


@pytest.mark.fastpath_only("model-cache")
def test_deltas_stand_on_a_whole_entry_at_most_chain_max_deep(client, repo):
    from gitreg.state.cache import CHAIN_MAX

    depths = []
    for _ in range(CHAIN_MAX + 3):
        client.create_model_version("m")
        entry = cache_entry(client, "m")
        depths.append(entry.get("depth", 0) if "base" in entry else 0)
    assert max(depths) == CHAIN_MAX and 0 in depths[1:]  # a whole entry again once the chain is full
    assert len(listed_in_fresh_process(repo, "m")) == CHAIN_MAX + 3


@pytest.mark.fastpath_only("model-cache")
def test_a_cache_with_a_missing_link_is_read_from_git_instead(client, repo):
    import shutil

    from gitreg.state.cache import cache_file

    for _ in range(5):
        client.create_model_version("m")
    entry = cache_entry(client, "m")
    os.unlink(cache_file(client.registry.repo, entry["base"]))  # the entry the delta stands on is gone
    assert [row[0] for row in listed_in_fresh_process(repo, "m")] == [1, 2, 3, 4, 5]
    shutil.rmtree(client.registry.repo.cache_dir)  # a cache is only a cache
    assert [row[0] for row in listed_in_fresh_process(repo, "m")] == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------- another process changed the model

WRITE_TWO = """
    from gitreg import Client
    c = Client('.')
    c.create_model_version('m', metadata={'by': 'other'})
    c.log_metadata('m', 1, {'touched': 'by other'})
"""


@pytest.mark.fastpath_only("state-memo")
def test_a_model_another_process_changed_is_rebuilt_from_what_this_process_knew(client, repo):
    for _ in range(6):
        client.create_model_version("m")
    before = client.registry.snapshot().require("m")
    fresh_process(repo, WRITE_TWO)
    after = client.registry.snapshot().require("m")
    assert [v.number for v in after.versions] == [1, 2, 3, 4, 5, 6, 7]
    assert dict(after.versions[0].metadata) == {"touched": "by other"}
    assert dict(after.versions[6].metadata) == {"by": "other"}
    # the versions the other process left alone are this process's own objects, not built again
    assert all(a is b for a, b in zip(before.versions[1:6], after.versions[1:6]))
    assert after.versions[0] is not before.versions[0]


@pytest.mark.fastpath_only("state-memo")
def test_without_the_other_writers_cache_only_the_changed_manifests_are_parsed(client, repo, monkeypatch):
    import shutil

    from gitreg import manifests
    from gitreg.state import snapshot, validation

    for _ in range(6):
        client.create_model_version("m")
    client.registry.snapshot().require("m")
    fresh_process(repo, WRITE_TWO)
    shutil.rmtree(client.registry.repo.cache_dir)  # nothing cached by the other process
    parsed: list[str] = []
    real = manifests.parse_yaml
    for module in (snapshot, validation):  # the two that parse manifests
        monkeypatch.setattr(module, "parse_yaml", lambda data, path: parsed.append(path) or real(data, path))
    after = client.registry.snapshot().require("m")
    assert sorted(parsed) == [".mcp/models/m/model.yaml", ".mcp/models/m/versions/1.yaml",
                              ".mcp/models/m/versions/7.yaml"]
    assert dict(after.versions[0].metadata) == {"touched": "by other"} and len(after.versions) == 7


def test_a_write_caches_what_its_committed_bytes_read_as(client, repo):
    """What a write caches for the model it changed (and this process keeps) is what its committed bytes read as,
    for every kind of value: a fresh process reading them gives the same."""
    values = {"f": 1.5, "tiny": 1e-300, "neg": -0.0, "int": 12345678901234567890, "t": True, "none": None,
              "s": "yes", "date": "2026-01-01", "num_text": "0x1F", "multi": "a\nb: c\n", "uni": "é 漢 \u2028",
              "nested": {"list": [1, "x", None, [], {}], "deep": {"a": {"b": "null"}}}, "empty": ""}
    client.create_model("m", description="line one\nline: two", tags=["a", "b-c"])
    version = client.create_model_version("m", description="#not a comment", tags=["x"], metadata=values)
    client.log_metadata("m", version.number, {"more": [1.25, "~"]})
    here = [[v.number, v.name, dict(v.metadata)] for v in client.list_model_versions("m")]
    assert here == listed_in_fresh_process(repo, "m") == [[1, "1", {**values, "more": [1.25, "~"]}]]
    assert str(here[0][2]["neg"]) == "-0.0" and type(here[0][2]["int"]) is int


def test_artifact_versions_carried_from_write_to_write_are_what_the_versions_give(client, repo):
    """The next version of each artifact name is worked out once and then carried to each write's successor
    state; links added, taken away and versions deleted in any order give what counting anew gives."""
    import random

    from gitreg.state import ModelState

    rng = random.Random(3)
    client.create_model_version("m")
    for step_ in range(40):
        versions = [v.number for v in client.list_model_versions("m")]
        action = rng.choice(["new", "save", "save", "save", "unlink", "delete"])
        if action == "new" or not versions:
            client.create_model_version("m")
        elif action == "save":
            client.save_artifact("m", rng.choice(versions), {"step": step_}, rng.choice(["a", "b", "c"]))
        elif action == "unlink":
            number = rng.choice(versions)
            links = client.get_model_version("m", number).artifacts
            if links:
                link = rng.choice(links)
                client.delete_artifact("m", number, link.name, link.version)
        elif len(versions) > 1:
            client.delete_model_version("m", rng.choice(versions))
        state = client.registry.snapshot().require("m")
        assert state.artifact_versions == ModelState(state.model, state.versions).artifact_versions, (step_, action)


def test_a_broken_manifest_from_another_process_is_still_reported(client, repo):
    from gitreg.errors import ManifestError

    for _ in range(3):
        client.create_model_version("m")
    client.registry.snapshot().require("m")
    path = repo / ".mcp/models/m/versions/2.yaml"
    path.write_text(path.read_text().replace("number: 2", "number: 9"))
    git(repo, "commit", "-qam", "a bad hand edit")
    state = client.registry.snapshot().require("m")  # one bad file fails reads of that version only
    with pytest.raises(ManifestError, match="versions/2.yaml"):
        state.resolve(2)
    with pytest.raises(ManifestError, match="versions/2.yaml"):
        state.whole()  # and views of the whole model
    assert state.resolve(3).number == 3


# ---------------------------------------------------------------- the index note

@pytest.mark.fastpath_only("index-note")
def test_a_write_reads_the_index_note_from_disk_only_when_it_changed(client, repo, monkeypatch):
    from gitreg.git import worktree

    client.create_model_version("m")
    reads: list[Path] = []
    real = worktree.read_record
    monkeypatch.setattr(worktree, "read_record", lambda path: reads.append(path) or real(path))
    client.create_model_version("m")
    client.log_metadata("m", 1, {"a": 1})
    assert reads == []  # the note this process wrote last is the one on disk
    Client(repo).create_model_version("m")  # another client (as another process would) reads it once
    assert len(reads) == 1
    assert git(repo, "status", "--porcelain", "--", ".mcp") == ""


def _checked_out_copy(client: Client, repo: Path, tmp_path: Path) -> Client:
    """A clone of ``repo``, its manifests written by git's checkout (gitreg has never seen their stat), and its
    index written again a moment later (the file system's clock is past the files' last change)."""
    for _ in range(3):
        client.create_model_version("m")
    copy = tmp_path / "copy"
    subprocess.run(["git", "clone", "-q", str(repo), str(copy)], check=True)
    time.sleep(0.05)  # past the clock's tick
    index = copy / ".git" / "index"
    index.write_bytes(index.read_bytes())
    return Client(copy)


def _counted_reads(monkeypatch) -> list[str]:
    from gitreg.git import worktree

    reads: list[str] = []
    real = worktree._blob_of
    monkeypatch.setattr(worktree, "_blob_of", lambda path: reads.append(path) or real(path))
    return reads


@pytest.mark.fastpath_only("index-note")
def test_a_manifest_read_once_and_found_in_line_is_known_by_its_stat_from_then_on(client, repo, tmp_path,
                                                                                  monkeypatch):
    copy = _checked_out_copy(client, repo, tmp_path)
    reads = _counted_reads(monkeypatch)
    copy.create_model_version("m")
    assert any(r.endswith("versions/1.yaml") for r in reads)  # the dirty check read what git checked out
    reads.clear()
    copy.create_model_version("m")
    assert not any(r.endswith("versions/1.yaml") for r in reads)  # ... once: its stat vouches for it now
    assert copy.list_model_versions("m")[-1].number == 5


def test_a_manifest_known_by_its_stat_and_edited_since_is_still_dirty(client, repo, tmp_path):
    from gitreg.errors import DirtyManifestsError

    copy = _checked_out_copy(client, repo, tmp_path)
    copy.create_model_version("m")  # version 1's manifest is known by its stat now
    manifest = tmp_path / "copy" / ".mcp" / "models" / "m" / "versions" / "1.yaml"
    data = manifest.read_bytes()
    with open(manifest, "r+b") as fh:  # in place, the same size
        fh.write(b"#" + data[1:])
    with pytest.raises(DirtyManifestsError, match="versions/1.yaml"):
        copy.create_model_version("m")


def test_a_manifest_changed_after_the_index_was_written_is_read_again(client, repo, tmp_path, monkeypatch):
    copy = _checked_out_copy(client, repo, tmp_path)
    manifest = tmp_path / "copy" / ".mcp" / "models" / "m" / "versions" / "1.yaml"
    manifest.write_bytes(manifest.read_bytes())  # the same content, changed after the index was last written
    reads = _counted_reads(monkeypatch)
    copy.create_model_version("m")  # read, not remembered: a write within that tick could have kept its stat
    reads.clear()
    copy.create_model_version("m")
    assert any(r.endswith("versions/1.yaml") for r in reads)


def _edit_in_place_keeping_mtime(path: Path) -> None:
    st = path.stat()
    data = path.read_bytes()
    path.write_bytes(b"#" + data[1:])  # the same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the time put back: only its ctime tells


HAND_CHANGES = {
    "a manifest deleted": (lambda m: (m / "versions/1.yaml").unlink(), "versions/1.yaml"),
    "a file added": (lambda m: (m / "versions/notes.txt").write_text("draft\n"), "versions/notes.txt"),
    "a folder added": (lambda m: ((m / "versions/old").mkdir(), (m / "versions/old/1.yaml").write_text("x: 1\n")),
                       "versions/old/1.yaml"),
    "a manifest edited in place": (lambda m: _edit_in_place_keeping_mtime(m / "versions/2.yaml"), "versions/2.yaml"),
    "a manifest turned into a folder": (lambda m: ((m / "model.yaml").unlink(), (m / "model.yaml").mkdir(),
                                                   (m / "model.yaml/x").write_text("x\n")), "model.yaml"),
    "a manifest turned into a dangling link": (lambda m: ((m / "versions/2.yaml").unlink(),
                                                          (m / "versions/2.yaml").symlink_to("nowhere.yaml")),
                                               "versions/2.yaml"),
}


@pytest.mark.parametrize("change", list(HAND_CHANGES))
def test_a_hand_change_in_a_model_folder_the_last_write_vouched_for_blocks_the_next_write(client, repo, change):
    """After a write, the note vouches for the index of the model's folder and the stat of its files, and the
    next dirty check only lists folders and stats files: every kind of hand change still stops the write."""
    from gitreg.errors import DirtyManifestsError

    for _ in range(3):
        client.create_model_version("m")
    folder = repo / ".mcp" / "models" / "m"
    apply, named = HAND_CHANGES[change]
    apply(folder)
    listing = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(DirtyManifestsError, match=named.replace(".", r"\.")):
        client.create_model_version("m")
    assert git(repo, "rev-parse", "HEAD") == head  # nothing written
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == listing  # the hand change kept


# ---------------------------------------------------------------- ref transactions

def update_ref_processes(monkeypatch) -> list[list[str]]:
    started: list[list[str]] = []
    real = subprocess.Popen.__init__

    def init(self, args, *a, **k):
        if list(args[:2]) == ["git", "update-ref"]:
            started.append(list(args))
        return real(self, args, *a, **k)

    monkeypatch.setattr(subprocess.Popen, "__init__", init)
    return started


@pytest.mark.fastpath_only("ref-updates")
def test_many_writes_go_through_one_update_ref_process(client, repo, monkeypatch):
    client.create_model_version("m")
    started = update_ref_processes(monkeypatch)
    for _ in range(5):
        client.create_model_version("m")
    client.update_model_version("m", 3, stage="production")
    assert len(started) <= 1
    assert git(repo, "tag", "-l", "models/m/*").split() == sorted(
        ["models/m/production/1", *(f"models/m/v{n}" for n in range(1, 7))])
    assert git(repo, "status", "--porcelain", "--", ".mcp") == ""
    assert git(repo, "fsck", "--strict", "--no-progress") == ""


def test_a_refused_transaction_says_so_and_the_next_one_goes_through(client, repo):
    client.create_model_version("m")
    repo_ = client.registry.repo
    branch = repo_.head_ref()
    head = repo_.commit_of(branch)
    parent = git(repo, "rev-parse", "HEAD~1")
    lost = repo_.update_refs([(branch, parent, "1" * 40)])  # not where expected: nothing moves
    assert not lost.moved and branch in lost.refused
    assert repo_.commit_of(branch) == head
    taken = repo_.update_refs([(branch, parent, head), ("refs/tags/models/m/v1", parent, None)])
    assert not taken.moved and repo_.commit_of(branch) == head  # a tag that exists: all or none
    assert repo_.update_refs([(branch, parent, head)]).moved
    assert repo_.commit_of(branch) == parent
    assert repo_.update_refs([(branch, head, parent)]).moved


@pytest.mark.fastpath_only("ref-updates")
def test_an_update_ref_process_that_died_is_started_again(client, repo):
    client.create_model_version("m")
    proc = client.registry.repo.refs._proc
    assert proc is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert client.create_model_version("m").number == 2
    assert git(repo, "tag", "-l", "models/m/v2") == "models/m/v2"


def test_a_held_ref_lock_is_reported_with_what_to_do(client, repo, monkeypatch):
    import time

    client.create_model_version("m")
    branch = client.registry.repo.head_ref()
    lock = repo / ".git" / (branch + ".lock")
    lock.write_text("")
    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # do not wait out the retries
    with pytest.raises(GitError, match=r"\.lock exists: another git command is running"):
        client.create_model_version("m")
    lock.unlink()
    assert client.create_model_version("m").number == 2


@pytest.mark.fastpath_only("ref-updates")
def test_a_killed_writer_leaves_no_ref_lock_behind(client, repo):
    """SIGKILL while the update-ref process is mid-transaction: git aborts what it has not read whole."""
    client.create_model_version("m")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import os, signal
        from gitreg import Client
        from gitreg.git.repo import RefTransactions
        real = RefTransactions.commit
        def half(self, lines):
            real(self, "")  # start the process
            self._proc.stdin.write(b"start\\n" + lines.encode() + b"prepare\\n")  # locked, never committed
            self._proc.stdin.flush()
            self._proc.stdout.readline(); self._proc.stdout.readline()
            os.kill(os.getpid(), signal.SIGKILL)
        RefTransactions.commit = half
        Client('.').create_model_version('m')
    """)], cwd=repo, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, timeout=120)
    assert out.returncode == -signal.SIGKILL
    import time

    deadline = time.monotonic() + 10
    while list((repo / ".git" / "refs").rglob("*.lock")) and time.monotonic() < deadline:
        time.sleep(0.05)  # git sees the end of its input and lets go
    assert list((repo / ".git" / "refs").rglob("*.lock")) == []
    assert Client(repo).create_model_version("m").number == 2  # v2's number was never taken
    assert git(repo, "status", "--porcelain", "--", ".mcp") == ""


# ---------------------------------------------------------------- pipeline runs

@step
def produce() -> Annotated[int, "answer"]:
    return 42


@pytest.mark.fastpath_only("pipeline-clients")
def test_pipeline_runs_of_one_process_share_their_client(repo, monkeypatch):
    from gitreg.registry import Registry

    @pipeline(model=Model("p"))
    def runs():
        produce()

    opened: list[object] = []
    real = Registry.open.__func__

    def counted(cls, *args, **kwargs):
        opened.append(args)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(Registry, "open", classmethod(counted))
    results = [runs() for _ in range(3)]
    assert len(opened) <= 1
    assert [r.versions for r in results] == [{"p": [1]}, {"p": [2]}, {"p": [3]}]
    assert git(repo, "status", "--porcelain", "--", ".mcp") == ""


def test_a_registry_made_anew_at_the_same_place_gets_a_new_client(tmp_path, monkeypatch):
    import shutil

    where = tmp_path / "reg"

    @pipeline(model=Model("p"))
    def runs():
        produce()

    Client.init(where)
    monkeypatch.chdir(where)
    assert runs().versions == {"p": [1]}
    shutil.rmtree(where)
    Client.init(where)
    monkeypatch.chdir(where)
    assert runs().versions == {"p": [1]}  # the new registry, not the old one's client


def test_registry_files_do_not_make_the_code_dirty(repo):
    from gitreg.git import GitRepo

    (repo / "train.py").write_text("print('train')\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-qm", "code")
    Client(repo).create_model_version("other")
    path = repo / ".mcp/models/other/versions/1.yaml"
    path.write_text(path.read_text() + "# a hand edit, not committed yet\n")
    code = GitRepo.discover(repo)
    assert code.code_state(repo / "train.py") == (git(repo, "rev-parse", "HEAD"), False)
    (repo / "train.py").write_text("print('changed')\n")
    assert code.code_state(repo / "train.py")[1] is True


@pytest.mark.fastpath_only("model-cache")
def test_the_same_model_written_in_two_registries_is_cached_in_each(tmp_path, monkeypatch):
    """A tree this process knows from one repository still gets its cache entry in another one."""
    from gitreg import operations
    from gitreg.layout import model_path
    from gitreg.state.cache import cache_get

    monkeypatch.setattr(operations, "now", lambda: "2026-01-01T00:00:00Z")  # identical manifests, identical trees
    trees = []
    for name in ("one", "two"):
        client = Client.init(tmp_path / name)
        for _ in range(3):
            client.create_model_version("m")
        repo = client.registry.repo
        trees.append(repo.resolve(f"HEAD:{model_path('m')}"))
        assert cache_get(repo, trees[-1], "model-cache") is not None, name
    assert trees[0] == trees[1]


# ---------------------------------------------------------------- the write lock

def hold_write_lock(repo: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from gitreg.git import GitRepo
        with GitRepo.discover({str(repo)!r}).write_lock():
            print("held", flush=True)
            time.sleep({seconds})
    """)], stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_writer_waiting_for_the_lock_sleeps_until_it_is_free(client, repo):
    import time

    holder = hold_write_lock(repo, 1.0)
    with client.registry.repo.write_lock(blocking=False) as held:
        assert held is False  # another process holds it
    cpu, start = time.process_time(), time.perf_counter()
    with client.registry.repo.write_lock() as held:
        waited = time.perf_counter() - start
        assert held is True
    assert holder.wait() == 0
    assert waited > 0.3
    assert time.process_time() - cpu < 0.02  # woken by the kernel, not polling meanwhile
    assert (repo / ".git" / "gitreg" / "write.lock").exists()  # the file every writer locks stays
    assert client.create_model_version("m").number == 1


def test_writers_of_two_processes_never_hold_the_lock_together(client, repo):
    holder = hold_write_lock(repo, 0.5)
    v = client.create_model_version("m")  # waits for the other process, then writes
    assert holder.wait() == 0 and v.number == 1
    assert git(repo, "status", "--porcelain", "--", ".mcp") == ""


def test_reflog_entries_carry_the_time_of_their_write(client, repo):
    """git keeps the reflog time it read first for the rest of a process; the long-lived one is renewed."""
    import time

    client.create_model_version("m")
    time.sleep(1.2)
    client.create_model_version("m")
    stamps = [int(line.split("\t")[0].split()[-2]) for line in
              (repo / ".git" / "logs" / "HEAD").read_text().splitlines()[-2:]]
    assert stamps[1] - stamps[0] >= 1
    assert abs(stamps[1] - time.time()) < 5


def test_a_registry_that_now_names_a_remote_gets_a_new_client(repo, tmp_path):
    """registry.yaml changed between two runs of one process (writes now push): the next run opens it anew."""
    hub = tmp_path / "hub.git"
    git(tmp_path, "init", "-q", "--bare", str(hub))

    @pipeline(model=Model("p"))
    def runs():
        produce()

    assert runs().versions == {"p": [1]}
    git(repo, "remote", "add", "origin", str(hub))
    git(repo, "push", "-q", "origin", "main")
    config = repo / ".mcp" / "registry.yaml"
    config.write_text(config.read_text() + "remote: origin\n")
    git(repo, "commit", "-qam", "writes push to origin")
    git(repo, "push", "-q", "origin", "main")
    assert runs().versions == {"p": [2]}
    assert git(hub, "tag", "-l", "models/p/v2") == "models/p/v2"  # the second run pushed


def _locks_seen_from_another_process(repo: Path) -> dict[str, bool]:
    """Whether another process could take the write lock and the sync lock right now (non-blocking)."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import json
        from gitreg.git import GitRepo
        repo = GitRepo.discover({str(repo)!r})
        with repo.write_lock(blocking=False) as write, repo.sync_lock(blocking=False) as sync:
            print(json.dumps({{"write": write, "sync": sync}}))
    """)], capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return json.loads(out.stdout)


def test_a_writer_lets_go_of_the_write_lock_while_it_brings_the_work_tree_in_line(client, repo, monkeypatch):
    """The next writer builds its commit meanwhile; the sync lock keeps it from checking and landing
    until this writer's index and work tree match the branch."""
    from gitreg.git.worktree import WorkTree

    client.create_model_version("m")
    seen: list[dict[str, bool]] = []
    real = WorkTree.set_files

    def observed(self, files):
        seen.append(_locks_seen_from_another_process(repo))
        return real(self, files)

    monkeypatch.setattr(WorkTree, "set_files", observed)
    client.create_model_version("m")
    assert seen == [{"write": True, "sync": False}]
    assert git(repo, "status", "--porcelain", "--", ".mcp") == ""


def test_a_write_still_bringing_its_work_tree_in_line_is_not_finished_by_another_command(client, repo,
                                                                                         monkeypatch, caplog):
    import logging

    from gitreg import journal
    from gitreg.git.worktree import WorkTree

    client.create_model_version("m")
    monkeypatch.setattr(WorkTree, "set_files", lambda self, files: False)  # its sync did not happen (yet)
    client.log_metadata("m", 1, {"acc": 0.5})
    monkeypatch.undo()
    assert journal.pending(client.registry.repo)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from gitreg.git import GitRepo
        with GitRepo.discover({str(repo)!r}).sync_lock():
            print("held", flush=True)
            sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert holder.stdout.readline().strip() == "held"  # as the writer itself would hold it while syncing
    try:
        with caplog.at_level(logging.WARNING, logger="gitreg"):
            Client(repo)  # opening a registry finishes interrupted writes, but not one still in progress
        assert journal.pending(client.registry.repo) and "finished" not in caplog.text.lower()
    finally:
        holder.communicate("\n")
    Client(repo)  # its sync lock is free now: the writer died, and this command finishes the write
    assert not journal.pending(client.registry.repo)
    assert git(repo, "status", "--porcelain", "--", ".mcp") == ""


def test_a_manifest_edited_while_the_index_was_updated_is_still_dirty(client, repo, monkeypatch):
    """The stat the note keeps for a file gitreg wrote is the one taken as it wrote it: an edit in place
    in the moment after (the same size, its modification time put back) is not vouched for."""
    from gitreg.errors import DirtyManifestsError
    from gitreg.git.worktree import WorkTree

    client.create_model_version("m")
    manifest = repo / ".mcp" / "models" / "m" / "versions" / "1.yaml"
    real = WorkTree.note_index_synced

    def edited_meanwhile(self, commit, paths, written, *args, **kwargs):
        before = manifest.stat()
        data = manifest.read_bytes()
        with open(manifest, "r+b") as fh:  # someone else's edit, in place, as git updates the index
            fh.write(b"#" + data[1:])
        os.utime(manifest, ns=(before.st_atime_ns, before.st_mtime_ns))
        return real(self, commit, paths, written, *args, **kwargs)

    monkeypatch.setattr(WorkTree, "note_index_synced", edited_meanwhile)
    client.log_metadata("m", 1, {"a": 1})
    monkeypatch.undo()
    edited = manifest.read_bytes()
    assert edited.startswith(b"#")
    with pytest.raises(DirtyManifestsError, match="versions/1.yaml"):
        client.log_metadata("m", 1, {"a": 2})
    assert manifest.read_bytes() == edited  # nothing lost
