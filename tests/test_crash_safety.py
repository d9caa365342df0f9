"""Writes that cannot be lost: a held index, a killed writer, staged edits, tags of commits that never landed."""

from __future__ import annotations

import importlib.util
import logging
import os
import shlex
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import git
from gitreg import Client
from gitreg.cli.app import main
from gitreg.errors import DirtyManifestsError, GitError, ManifestError

ROOT = Path(__file__).resolve().parent.parent


def status(repo: Path) -> str:
    return git(repo, "status", "--porcelain", "--", ".mcp")


def user_commit(repo: Path) -> list[str]:
    """The user's ordinary `git add app.py && git commit`; the paths that commit changed."""
    (repo / "app.py").write_text(f"print({os.urandom(4).hex()!r})\n")
    git(repo, "add", "app.py")
    git(repo, "commit", "-q", "-m", "user change")
    return git(repo, "show", "--name-only", "--format=", "HEAD").split()


def run_py(repo: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=repo, capture_output=True, text=True,
                          env=env, timeout=120)


# ---------------------------------------------------------------- a held index.lock

def test_a_held_index_lock_refuses_the_write_before_anything_is_committed(repo, client, capsys):
    client.create_model_version("m")
    head = git(repo, "rev-parse", "HEAD")
    lock = repo / ".git" / "index.lock"
    lock.touch()
    assert main(["model", "version", "create", "m"]) == 9
    err = capsys.readouterr().err
    assert "index.lock exists" in err and "nothing was written" in err
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "tag", "-l", "models/m/v2") == ""
    # the fix the message suggests works as written
    suggested = err.split("(rm ", 1)[1].split(")", 1)[0]
    subprocess.run(["rm", suggested], check=True)
    assert main(["model", "version", "create", "m"]) == 0
    assert status(repo) == ""
    assert git(repo, "tag", "-l", "models/m/v2") == "models/m/v2"


def test_an_index_locked_after_the_commit_is_brought_in_line_by_the_next_command(repo, client, monkeypatch,
                                                                                 caplog):
    """The lock appears between the commit and the index update (another git command started)."""
    from gitreg.git.worktree import WorkTree

    client.create_model_version("m")
    lock = repo / ".git" / "index.lock"
    real_set = WorkTree.set_files

    def lock_then_set(self, files):
        lock.touch()  # someone else's git takes the index right after the branch moved
        return real_set(self, files)

    monkeypatch.setattr(WorkTree, "set_files", lock_then_set)
    with caplog.at_level(logging.WARNING, logger="gitreg"):
        v2 = client.create_model_version("m")  # the write is done and says so
    assert v2.number == 2
    assert "index.lock is held" in caplog.text
    assert git(repo, "tag", "-l", "models/m/v2") == "models/m/v2"
    monkeypatch.setattr(WorkTree, "set_files", real_set)
    lock.unlink()
    assert "versions/2.yaml" in status(repo)  # stale until the next command
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gitreg"):
        assert main(["model", "version", "list", "m"]) == 0  # a read: finishes the interrupted write
    assert "an earlier gitreg write was interrupted: brought 2 file(s) under .mcp/ in line with main" in caplog.text
    assert status(repo) == ""
    assert user_commit(repo) == ["app.py"]
    assert (repo / ".mcp/models/m/versions/2.yaml").exists()
    assert main(["check"]) == 0


def test_recovery_leaves_files_the_user_changed_since(repo, client, monkeypatch, caplog):
    from gitreg.git.worktree import WorkTree

    client.create_model_version("m")
    monkeypatch.setattr(WorkTree, "set_files", lambda self, files: False)  # the index stays locked
    client.log_metadata("m", 1, {"acc": 0.5})
    monkeypatch.undo()
    manifest = repo / ".mcp/models/m/versions/1.yaml"
    manifest.write_text(manifest.read_text() + "# my own edit\n")
    with caplog.at_level(logging.WARNING, logger="gitreg"):
        Client(repo)
    assert "left 1 file(s) you changed as they are (.mcp/models/m/versions/1.yaml)" in caplog.text
    assert manifest.read_text().endswith("# my own edit\n")
    with pytest.raises(DirtyManifestsError):
        client.log_metadata("m", 1, {"acc": 0.6})


# ---------------------------------------------------------------- a killed writer

def test_a_writer_killed_after_its_commit_leaves_nothing_stale(repo, client):
    """kill -9 right after the branch moved, before the index was updated."""
    client.create_model_version("m")
    res = run_py(repo, """
        import os, signal
        from gitreg.git.worktree import WorkTree
        from gitreg import Client
        def die(self, files):
            os.kill(os.getpid(), signal.SIGKILL)
        WorkTree.set_files = die
        Client(".").create_model_version("m")
    """)
    assert res.returncode == -signal.SIGKILL
    assert git(repo, "tag", "-l", "models/m/v2") == "models/m/v2"  # branch and tag moved together
    assert main(["model", "list"]) == 0
    assert status(repo) == ""
    assert user_commit(repo) == ["app.py"]
    assert main(["check"]) == 0


def test_a_signed_tag_of_a_commit_that_never_landed_is_removed(repo, client, tmp_path):
    key = tmp_path / "signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test@example.com", "-f", str(key)],
                   check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'test@example.com namespaces="git" {(tmp_path / "signing_key.pub").read_text()}')
    for k, v in (("gpg.format", "ssh"), ("user.signingkey", str(key)), ("tag.gpgSign", "true"),
                 ("gpg.ssh.allowedSignersFile", str(allowed))):
        git(repo, "config", k, v)
    client.create_model_version("m")
    head = git(repo, "rev-parse", "HEAD")
    res = run_py(repo, """
        import os, signal
        from gitreg.git import GitRepo
        from gitreg import Client
        def die(self, updates):
            os.kill(os.getpid(), signal.SIGKILL)
        GitRepo.update_refs = die
        Client(".").create_model_version("m")
    """)
    assert res.returncode == -signal.SIGKILL
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "tag", "-l", "models/m/v2") == "models/m/v2"  # made by git tag, before the move
    assert main(["model", "list"]) == 0
    assert git(repo, "tag", "-l", "models/m/v2") == ""
    assert status(repo) == ""
    assert client.create_model_version("m").number == 2
    assert "Good" in subprocess.run(["git", "verify-tag", "models/m/v2"], cwd=repo, capture_output=True,
                                    text=True).stderr


def _load_stress():
    spec = importlib.util.spec_from_file_location("crash_stress", ROOT / "benchmarks" / "crash_stress.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_crash_stress_short(tmp_path, monkeypatch):
    """The short version of benchmarks/crash_stress.py: every kind of write killed at random points."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    stress = _load_stress()
    tally = stress.stress(kills=14, seed=11, root=tmp_path / "stress")
    assert sum(tally.rounds.values()) == 14
    assert tally.stale == [] and tally.lost == set() and tally.reused == [] and tally.check_failures == []


# ---------------------------------------------------------------- staged changes

def test_a_staged_edit_whose_work_tree_equals_head_blocks_a_write(repo, client):
    client.create_model_version("m")
    manifest = repo / ".mcp/models/m/versions/1.yaml"
    original = manifest.read_text()
    manifest.write_text(original + "description: staged only\n")
    git(repo, "add", str(manifest))
    manifest.write_text(original)  # the work tree equals HEAD again; the index does not
    assert main(["metadata", "log", "m", "1", "k=1"]) == 8
    assert "description: staged only" in git(repo, "show", ":.mcp/models/m/versions/1.yaml")


def test_a_staged_removal_blocks_a_write_and_the_suggested_fix_works(repo, client, capsys):
    client.create_model_version("m")
    git(repo, "rm", "-q", "--cached", ".mcp/models/m/versions/1.yaml")
    (repo / ".mcp/models/m/versions/new.yaml").write_text("x: 1\n")
    with pytest.raises(DirtyManifestsError) as info:
        client.log_metadata("m", 1, {"k": 1})
    assert git(repo, "ls-files", ".mcp/models/m/versions/1.yaml") == ""  # still removed from the index
    fix = info.value.message.split("discard them with `", 1)[1].split("`", 1)[0]
    subprocess.run(fix, shell=True, cwd=repo, check=True)
    assert status(repo) == ""
    client.log_metadata("m", 1, {"k": 1})
    assert status(repo) == ""


# ---------------------------------------------------------------- refs move together

def test_an_invalid_tag_prefix_fails_before_the_branch_moves(repo, client):
    client.create_model_version("m")
    config = repo / ".mcp/registry.yaml"
    config.write_text(config.read_text().replace("tag_prefix: models", "tag_prefix: a..b"))
    git(repo, "commit", "-qam", "hand edit")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(ManifestError, match="tag_prefix"):
        Client(repo).create_model_version("m")
    assert git(repo, "rev-parse", "HEAD") == head
    assert status(repo) == ""
    assert not (repo / ".git" / "gitreg-pending-write.json").exists()


def test_a_stale_ref_lock_is_a_clear_error_naming_the_file(repo, client):
    client.create_model_version("m")
    head = git(repo, "rev-parse", "HEAD")
    lock = repo / ".git" / "refs" / "heads" / "main.lock"
    lock.touch()
    with pytest.raises(GitError, match=r"main\.lock exists: .*rm "):
        client.create_model_version("m")
    lock.unlink()
    assert git(repo, "rev-parse", "HEAD") == head
    assert status(repo) == ""
    assert client.create_model_version("m").number == 2


# ---------------------------------------------------------------- tags of commits that never reached the remote

def test_a_writer_killed_before_its_push_leaves_no_local_tag(tmp_path, monkeypatch):
    seed = tmp_path / "seed"
    Client.init(seed, store=str(tmp_path / "store")).create_model_version("m")
    bare = tmp_path / "models.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(bare)], check=True)
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True)
    registry = work / ".mcp/registry.yaml"
    registry.write_text(registry.read_text() + "remote: origin\n")
    git(work, "commit", "-qam", "share")
    git(work, "push", "-q", "origin", "main")
    res = run_py(work, """
        import os, signal
        from gitreg.remote import Remote
        from gitreg import Client
        def die(self, commit, branch=None, extra_refs=()):
            os.kill(os.getpid(), signal.SIGKILL)
        Remote.push_branch = die
        Client(".").create_model_version("m")
    """)
    assert res.returncode == -signal.SIGKILL
    assert git(work, "tag", "-l", "models/m/v2") == ""
    monkeypatch.chdir(work)
    assert main(["tags", "sync", "--push"]) == 0
    assert git(bare, "tag", "-l", "models/m/*").split() == ["models/m/v1"]
    assert status(work) == ""


def test_tags_sync_push_never_publishes_a_tag_of_a_commit_off_the_remote_branch(tmp_path, monkeypatch, capsys):
    seed = tmp_path / "seed"
    Client.init(seed, store=str(tmp_path / "store")).create_model_version("m")
    bare = tmp_path / "models.git"
    subprocess.run(["git", "clone", "-q", "--bare", "--no-tags", str(seed), str(bare)], check=True)
    work = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True)
    # a stray local tag, on a commit that never reached the remote (left by an older gitreg killed mid-push)
    tree = git(work, "rev-parse", "HEAD^{tree}")
    stray = subprocess.run(["git", "commit-tree", tree, "-p", "HEAD", "-m", "m v2: register version"], cwd=work,
                           capture_output=True, text=True, check=True).stdout.strip()
    git(work, "tag", "-a", "-m", "m v2", "models/m/v2", stray)
    monkeypatch.chdir(work)
    assert main(["tags", "sync", "--push"]) == 0
    out = capsys.readouterr()
    assert git(bare, "tag", "-l").split() == ["models/m/v1"]
    assert "not pushed: models/m/v2 tags a commit that is not on origin's branch" in out.err
    assert shlex.split("git tag -d models/m/v2")[0] in out.err


def test_a_git_killed_inside_its_ref_transaction_leaves_no_tag_missing(repo, client):
    """git moves refs one file at a time: killed in between, the branch can move without its tag.
    The next command makes the tag from the journal (its object was written before any ref moved)."""
    client.create_model_version("m")
    res = run_py(repo, """
        import os, signal
        from gitreg.git import GitRepo
        from gitreg import Client
        real = GitRepo.update_refs
        def branch_only(self, updates):
            real(self, updates[:1])       # the branch moved, the tag's rename never happened
            os.kill(os.getpid(), signal.SIGKILL)
        GitRepo.update_refs = branch_only
        Client(".").create_model_version("m")
    """)
    assert res.returncode == -signal.SIGKILL
    assert (repo / ".mcp").exists() and git(repo, "tag", "-l", "models/m/v2") == ""
    assert main(["model", "list"]) == 0
    assert git(repo, "tag", "-l", "models/m/v2") == "models/m/v2"
    assert git(repo, "rev-list", "-n1", "models/m/v2") == git(repo, "rev-parse", "HEAD")
    assert status(repo) == ""
    assert main(["check"]) == 0


def test_a_tag_moved_by_a_killed_git_without_its_branch_is_removed(repo, client):
    """The other order: the tag's ref moved, the branch did not; the tag names a commit that never landed."""
    client.create_model_version("m")
    head = git(repo, "rev-parse", "HEAD")
    res = run_py(repo, """
        import os, signal
        from gitreg.git import GitRepo
        from gitreg import Client
        real = GitRepo.update_refs
        def tag_only(self, updates):
            real(self, updates[1:])
            os.kill(os.getpid(), signal.SIGKILL)
        GitRepo.update_refs = tag_only
        Client(".").create_model_version("m")
    """)
    assert res.returncode == -signal.SIGKILL
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "tag", "-l", "models/m/v2") == "models/m/v2"
    assert main(["model", "list"]) == 0
    assert git(repo, "tag", "-l", "models/m/v2") == ""
    assert main(["check"]) == 0
    assert client.create_model_version("m").number == 2


def test_a_same_size_edit_with_its_old_times_put_back_still_blocks_a_write(repo, client):
    """Writes skip re-reading files untouched since gitreg wrote them; a sneaky edit is still seen."""
    client.create_model_version("m")
    client.log_metadata("m", 1, {"acc": 0.5})   # the index and work tree are gitreg's own now
    manifest = repo / ".mcp/models/m/versions/1.yaml"
    before = manifest.stat()
    text = manifest.read_text()
    manifest.write_text(text.replace("acc: 0.5", "acc: 0.9"))  # same size
    os.utime(manifest, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(DirtyManifestsError, match="versions/1.yaml"):
        client.log_metadata("m", 1, {"acc": 0.6})
