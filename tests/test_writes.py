"""Writes are commits: one per operation, only .mcp/, the user's work untouched, no lost races."""

import multiprocessing
import os
import subprocess

import pytest

from conftest import git
from gitreg import Client, Model
from gitreg.errors import DirtyManifestsError, GitError


def _changed_paths(repo, rev):
    return git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", rev).splitlines()


def test_each_operation_is_one_commit_touching_only_mcp(repo, client):
    ops = [
        lambda: client.create_model("iris", license="MIT"),
        lambda: client.create_model_version("iris"),
        lambda: client.log_metadata("iris", 1, {"a": 1}),
        lambda: client.update_model_version("iris", 1, stage="staging"),
        lambda: client.save_artifact("iris", 1, b"weights", "w"),
        lambda: client.update_model("iris", description="d"),
        lambda: client.delete_model_version("iris", 1),
    ]
    for op in ops:
        before = git(repo, "rev-parse", "HEAD")
        op()
        assert git(repo, "rev-list", "--count", f"{before}..HEAD") == "1"
        assert all(p.startswith(".mcp/") for p in _changed_paths(repo, "HEAD"))
    assert git(repo, "status", "--porcelain") == ""


def test_user_changes_stay_exactly_as_they_were(repo, client):
    (repo / "train.py").write_text("print('v1')\n")
    (repo / "notes.txt").write_text("committed\n")
    git(repo, "add", "train.py", "notes.txt")
    git(repo, "commit", "-qm", "user code")
    (repo / "train.py").write_text("print('v2 staged')\n")
    git(repo, "add", "train.py")
    (repo / "train.py").write_text("print('v3 unstaged on top')\n")
    (repo / "notes.txt").write_text("unstaged edit\n")
    (repo / "new.txt").write_text("untracked\n")
    (repo / "added.txt").write_text("staged new file\n")
    git(repo, "add", "added.txt")
    status_before = git(repo, "status", "--porcelain")
    staged_before = git(repo, "diff", "--cached")
    unstaged_before = git(repo, "diff")

    Model("iris").log_metadata({"accuracy": 0.9})
    client.update_model_version("iris", 1, stage="production")

    assert git(repo, "status", "--porcelain") == status_before
    assert git(repo, "diff", "--cached") == staged_before
    assert git(repo, "diff") == unstaged_before
    assert (repo / "train.py").read_text() == "print('v3 unstaged on top')\n"
    assert (repo / "new.txt").read_text() == "untracked\n"
    # the registry's own files are committed, and index and work tree agree with HEAD
    assert git(repo, "status", "--porcelain", "--", ".mcp") == ""
    assert (repo / ".mcp/models/iris/versions/1.yaml").read_text() == \
        git(repo, "show", "HEAD:.mcp/models/iris/versions/1.yaml") + "\n"
    for path in _changed_paths(repo, "HEAD"):
        assert path.startswith(".mcp/")


def test_uncommitted_hand_edit_under_mcp_is_never_overwritten(repo, client):
    client.create_model_version("iris")
    manifest = repo / ".mcp/models/iris/versions/1.yaml"
    edited = manifest.read_text().replace("tags: []", "tags:\n- hand")
    manifest.write_text(edited)
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(DirtyManifestsError) as info:
        client.log_metadata("iris", 1, {"a": 1})
    assert ".mcp/models/iris/versions/1.yaml" in info.value.paths
    assert manifest.read_text() == edited  # nothing lost
    assert git(repo, "rev-parse", "HEAD") == head
    # once committed, the hand edit is the registry's state
    git(repo, "commit", "-qam", "tag by hand")
    assert client.get_model_version("iris", 1).tags == ("hand",)
    client.log_metadata("iris", 1, {"a": 1})
    assert client.get_model_version("iris", 1).tags == ("hand",)


def test_reads_come_from_the_committed_state(repo, client):
    client.create_model_version("iris")
    (repo / ".mcp/models/iris/versions/1.yaml").write_text("garbage: [")
    assert client.get_model_version("iris", 1).number == 1


def test_detached_head_refuses_writes(repo, client):
    client.create_model_version("iris")
    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(GitError, match="detached"):
        client.create_model_version("iris")


def test_writes_from_another_branch_land_on_that_branch(repo, client):
    client.create_model_version("iris")
    git(repo, "checkout", "-q", "-b", "experiment")
    client.create_model_version("iris")
    assert client.get_model_version("iris").number == 2
    git(repo, "checkout", "-q", "main")
    assert client.get_model_version("iris").number == 1


def _register_many(args):
    path, count = args
    client = Client(path)
    return [client.create_model_version("iris").number for _ in range(count)]


def test_parallel_writers_lose_nothing(repo, client):
    client.create_model("iris")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.map(_register_many, [(str(repo), 25)] * 4)
    numbers = sorted(n for chunk in results for n in chunk)
    assert numbers == list(range(1, 101))
    assert [v.number for v in client.list_model_versions("iris")] == list(range(1, 101))
    tags = git(repo, "tag", "-l", "models/iris/v*").splitlines()
    assert len(tags) == 100
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-list", "--count", "HEAD") == str(1 + 1 + 100)


def _promote(args):
    path, number = args
    client = Client(path)
    client.update_model_version("iris", number, stage="production", force=True)
    return number


def test_parallel_promotions_keep_the_stage_exclusive(repo, client):
    for _ in range(8):
        client.create_model_version("iris")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        pool.map(_promote, [(str(repo), n) for n in range(1, 9)])
    holders = client.list_model_versions("iris", stage="production")
    assert len(holders) == 1
    assert len(git(repo, "tag", "-l", "models/iris/production/*").splitlines()) == 8
    from gitreg.check import check

    assert check(client.registry.repo).ok


def test_registry_in_a_subfolder_checkout_env(repo, monkeypatch):
    monkeypatch.chdir(repo)
    os.makedirs("a/b")
    monkeypatch.chdir("a/b")
    assert Model("iris").number == 1


def test_loose_objects_get_packed(repo, client):
    """Plumbing never runs git's housekeeping; gitreg's writes do, as git would."""
    import subprocess

    from gitreg.git import blob_id

    git(repo, "config", "gc.auto", "256")  # git estimates from objects/17: > 1 object there
    git(repo, "config", "gc.autoDetach", "false")
    found, i = 0, 0
    while found < 3:  # loose objects whose ids start with 17, as many more would
        data = b"filler %d" % i
        i += 1
        if blob_id(data).startswith("17"):
            subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=data, check=True,
                           capture_output=True)
            found += 1
    assert not list((repo / ".git/objects/pack").glob("*.pack"))
    client.create_model_version("iris")
    assert list((repo / ".git/objects/pack").glob("*.pack")), "git gc --auto should have packed objects"
    client.log_metadata("iris", 1, {"final": True})
    assert client.get_model_version("iris", 1).metadata["final"] is True


def test_no_writes_in_the_middle_of_a_merge(repo, client):
    client.create_model_version("iris")
    (repo / "f.txt").write_text("base\n")
    git(repo, "add", "f.txt")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "f.txt").write_text("other\n")
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "f.txt").write_text("main\n")
    git(repo, "commit", "-qam", "main")
    subprocess.run(["git", "merge", "other"], cwd=repo, capture_output=True)  # conflicts
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(GitError, match="merge is in progress"):
        client.create_model_version("iris")
    assert git(repo, "rev-parse", "HEAD") == head
    assert client.get_model_version("iris").number == 1  # reads still work


def test_uncommitted_deletion_or_new_file_under_mcp_is_never_overwritten(repo, client):
    client.create_model_version("iris")
    client.create_model_version("iris")
    (repo / ".mcp/models/iris/versions/1.yaml").unlink()
    with pytest.raises(DirtyManifestsError) as info:
        client.log_metadata("iris", 2, {"a": 1})
    assert info.value.paths == [".mcp/models/iris/versions/1.yaml"]
    assert not (repo / ".mcp/models/iris/versions/1.yaml").exists()
    git(repo, "checkout", "--", ".mcp")
    (repo / ".mcp/models/iris/versions/notes.txt").write_text("draft\n")
    with pytest.raises(DirtyManifestsError, match="notes.txt"):
        client.log_metadata("iris", 2, {"a": 1})
    assert (repo / ".mcp/models/iris/versions/notes.txt").read_text() == "draft\n"
