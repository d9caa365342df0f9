"""git's index edited in-process: the entries git update-index would write, the rest of the index as git
keeps it (other entries, unmerged and flagged ones, resolve-undo), racily clean entries smudged, and
everything unusual left to git."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import git
from gitreg.git import GitRepo
from gitreg.git.index import DONE, LOCKED, UNSUPPORTED, update_entries
from gitreg.git.objects import blob_id


def _git(repo: Path, *args: str, index: Path | None = None) -> str:
    env = dict(os.environ, GIT_INDEX_FILE=str(index)) if index is not None else None
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=env).stdout


def _write(repo: Path, rel: str, data: bytes) -> tuple[str, os.stat_result]:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a new file, as a registry write makes it (git's update-index goes by the stat: a
    # rewrite in place of the same size within one clock tick would look unchanged to it)
    GitRepo.discover(repo).write_blob(data)  # in the object store, as a registry write leaves it
    return blob_id(data), os.lstat(path)


def _busy_repo(root: Path) -> Path:
    """A repository whose index has a bit of everything: nested and tricky names, cached trees after a
    commit, a resolved conflict (resolve-undo), an unmerged path, an intent-to-add entry (version 3)."""
    repo = root / "r"
    git(root, "init", "-q", str(repo))
    for rel in ("a.txt", "a-b/x", "a/b/c.yaml", "a0", "z/deep/er/file", ".mcp/models/m/model.yaml",
                ".mcp/models/m/versions/1.yaml", ".mcp/runs/r1.yaml", "conflict.txt", "resolved.txt"):
        _write(repo, rel, f"{rel}\n".encode())
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "other")
    for rel in ("conflict.txt", "resolved.txt"):
        (repo / rel).write_text("theirs\n")
    git(repo, "commit", "-qam", "theirs")
    git(repo, "checkout", "-q", "main")
    for rel in ("conflict.txt", "resolved.txt"):
        (repo / rel).write_text("ours\n")
    git(repo, "commit", "-qam", "ours")
    subprocess.run(["git", "merge", "-q", "other"], cwd=repo, capture_output=True)  # conflicts
    (repo / "resolved.txt").write_text("merged\n")
    git(repo, "add", "resolved.txt")  # resolve-undo records the stages it had
    (repo / "new-later.txt").write_text("later\n")
    git(repo, "add", "-N", "new-later.txt")  # intent to add: an extended flag, index version 3
    return repo


def _entries(repo: Path, index: Path | None = None) -> str:
    return _git(repo, "ls-files", "-s", index=index)


def test_random_edits_give_the_entries_git_update_index_gives(hermetic):
    repo = _busy_repo(hermetic)
    index = repo / ".git" / "index"
    assert index.read_bytes()[4:8] == b"\0\0\0\3" and b"REUC" in index.read_bytes()
    rng = random.Random(5)
    names = [".mcp/models/m/model.yaml", ".mcp/models/m/versions/1.yaml", ".mcp/models/m/versions/2.yaml",
             ".mcp/models/m/versions/10.yaml", ".mcp/models/n/model.yaml", ".mcp/runs/r1.yaml", ".mcp/runs/r2.yaml",
             ".mcp/registry.yaml", ".mcp/models/m-2/model.yaml", ".mcp/a"]
    for round_ in range(25):
        change: dict[str, tuple[str, os.stat_result] | None] = {}
        for rel in rng.sample(names, rng.randint(1, 4)):
            if rng.random() < 0.25:
                (repo / rel).unlink(missing_ok=True)
                change[rel] = None
            else:
                change[rel] = _write(repo, rel, f"{rel} {round_}\n".encode())
        theirs = repo / ".git" / "index-by-git"
        shutil.copyfile(index, theirs)
        _git(repo, "update-index", "--add", "--remove", "--", *change, index=theirs)
        assert update_entries(index, change) == DONE
        assert _entries(repo) == _entries(repo, theirs), (round_, {k: v and v[0] for k, v in change.items()})
        assert _git(repo, "status", "--porcelain") == _git(repo, "status", "--porcelain", index=theirs)
    listing = _entries(repo)
    assert " 1\tconflict.txt" in listing and " 3\tconflict.txt" in listing  # the unmerged path as it was
    assert b"REUC" in index.read_bytes()  # resolve-undo kept
    assert _git(repo, "diff-files", "--name-only", "--", ".mcp") == ""  # stats as git records them
    assert not (repo / ".git" / "index.lock").exists()


def test_an_entry_racily_clean_is_smudged_so_that_git_still_sees_its_change(hermetic):
    """A file changed within the same second as the index was written, its size and time unchanged (and
    git told not to trust ctime): git finds the change only by its content. An edit of the index that
    copied the entry as it was would hide the change for good; it is smudged instead, as git does."""
    repo = hermetic / "r"
    git(hermetic, "init", "-q", str(repo))
    git(repo, "config", "core.trustctime", "false")
    app = repo / "app.py"
    app.write_text("print(1)\n")
    git(repo, "add", "app.py")
    before = app.stat()
    app.write_text("print(2)\n")  # the same size, at once
    os.utime(app, ns=(before.st_atime_ns, before.st_mtime_ns))
    change = {".mcp/x.yaml": _write(repo, ".mcp/x.yaml", b"x: 1\n")}
    time.sleep(1.1)  # the index written now is from a later second: the entry would no longer look racy
    assert update_entries(repo / ".git" / "index", change) == DONE
    assert "app.py" in _git(repo, "diff-files", "--name-only")
    assert _git(repo, "diff", "--", "app.py").count("print(2)") == 1


@pytest.mark.parametrize("how", ["split", "version 4", "unmerged target", "flagged target", "many entries"])
def test_an_index_this_edit_does_not_handle_is_left_to_git_untouched(hermetic, how, monkeypatch):
    from gitreg.git import index as index_module

    repo = _busy_repo(hermetic)
    if how == "many entries":  # more than git's own process takes longer for
        monkeypatch.setattr(index_module, "MAX_ENTRIES", 5)
    index = repo / ".git" / "index"
    target = ".mcp/models/m/versions/1.yaml"
    if how == "split":
        git(repo, "update-index", "--split-index")
    elif how == "version 4":
        git(repo, "update-index", "--index-version", "4")
    elif how == "unmerged target":
        target = "conflict.txt"
    else:
        git(repo, "update-index", "--skip-worktree", target)
    before = index.read_bytes()
    assert update_entries(index, {target: _write(repo, target, b"new\n")}) == UNSUPPORTED
    assert index.read_bytes() == before and not (repo / ".git" / "index.lock").exists()


def test_a_locked_index_is_left_alone(hermetic):
    repo = _busy_repo(hermetic)
    index = repo / ".git" / "index"
    lock = repo / ".git" / "index.lock"
    lock.write_bytes(b"")
    before = index.read_bytes()
    assert update_entries(index, {".mcp/runs/r1.yaml": _write(repo, ".mcp/runs/r1.yaml", b"r\n")}) == LOCKED
    assert index.read_bytes() == before and lock.read_bytes() == b""


@pytest.mark.fastpath_only("index")
def test_registry_writes_edit_the_index_in_process_and_git_agrees(repo, client, monkeypatch):
    """No git process for the index of a plain repository; git status and the user's staged work as
    git update-index would have left them."""
    (repo / "app.py").write_text("print('staged')\n")
    git(repo, "add", "app.py")
    ran: list[list[str]] = []
    real = subprocess.run

    def spy(args, *a, **k):
        ran.append(list(args))
        return real(args, *a, **k)

    monkeypatch.setattr(subprocess, "run", spy)
    client.create_model_version("m", metadata={"a": 1})
    client.log_metadata("m", 1, {"b": 2})
    monkeypatch.setattr(subprocess, "run", real)
    assert not any("update-index" in args for args in ran)
    assert git(repo, "status", "--porcelain") == "A  app.py"
    assert git(repo, "diff-files", "--name-only") == ""


def test_a_repository_configured_for_a_split_index_is_written_by_git(repo, client):
    git(repo, "config", "core.splitIndex", "true")
    client.create_model_version("m")
    assert (repo / ".git" / "index").read_bytes().find(b"link") > 0  # git's own update-index split it
    assert git(repo, "status", "--porcelain") == ""


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_the_lock_of_a_writer_killed_while_renaming_it_is_recognised_and_removed(repo, client):
    """A registry write killed between making index.lock (a hard link of its own file) and renaming it
    leaves both; the next write sees the lock is that dead process's file, removes it, and goes on."""
    client.create_model_version("m")
    git_dir = repo / ".git"
    leftover = git_dir / f"index.gitreg-{_dead_pid()}.tmp"
    leftover.write_bytes((git_dir / "index").read_bytes())
    os.link(leftover, git_dir / "index.lock")
    client.create_model_version("m")
    assert not (git_dir / "index.lock").exists() and not leftover.exists()
    assert git(repo, "status", "--porcelain") == ""


def test_a_lock_of_another_process_is_never_taken_for_a_dead_writer_s(hermetic):
    repo = _busy_repo(hermetic)
    index = repo / ".git" / "index"
    lock = repo / ".git" / "index.lock"
    lock.write_bytes(b"someone else's")
    (repo / ".git" / f"index.gitreg-{_dead_pid()}.tmp").write_bytes(b"a dead writer's, another file")
    live = repo / ".git" / f"index.gitreg-{os.getppid()}.tmp"  # a live process's file that is the lock
    os.link(lock, live)
    assert update_entries(index, {".mcp/runs/r1.yaml": _write(repo, ".mcp/runs/r1.yaml", b"r\n")}) == LOCKED
    from gitreg.git.index import clear_stale_lock

    assert clear_stale_lock(index) is False
    assert lock.read_bytes() == b"someone else's" and live.exists()
