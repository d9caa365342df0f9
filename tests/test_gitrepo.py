"""The git plumbing gitreg does in-process must give exactly what git itself gives."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import git
from gitreg.git import BLOB_MODE, GitRepo, TreeEntry


def _git_in(repo: Path, *args: str, input: str | None = None, env: dict | None = None) -> str:
    import os

    return subprocess.run(["git", *args], cwd=repo, input=input, capture_output=True, text=True, check=True,
                          env={**os.environ, **(env or {})}).stdout.strip()


def test_objects_written_in_process_are_the_ones_git_writes(hermetic, monkeypatch):
    git(hermetic, "init", "-q")
    repo = GitRepo.discover(hermetic)
    blob = repo.write_blob(b"stage: production\n")
    assert blob == _git_in(hermetic, "hash-object", "--stdin", input="stage: production\n")
    tree = repo.write_tree([TreeEntry(BLOB_MODE, "1.yaml", blob)])
    assert _git_in(hermetic, "cat-file", "-t", tree) == "tree"
    assert _git_in(hermetic, "ls-tree", tree) == f"100644 blob {blob}\t1.yaml"
    dates = {"GIT_AUTHOR_DATE": "1700000000 +0100", "GIT_COMMITTER_DATE": "1700000000 +0100"}
    for key, value in dates.items():
        monkeypatch.setenv(key, value)
    message = "m v1: register version\n\nreason: first"
    ours = repo.commit_tree(tree, [], message)
    assert ours == _git_in(hermetic, "commit-tree", tree, "-F", "-", input=message, env=dates)
    assert _git_in(hermetic, "fsck", "--strict", "--no-dangling") == ""


def test_commit_idents_follow_the_environment_and_config(hermetic, monkeypatch):
    git(hermetic, "init", "-q")
    repo = GitRepo.discover(hermetic)
    tree = repo.write_tree([])
    first = repo.commit_tree(tree, [], "x")
    assert "Test User <test@example.com>" in _git_in(hermetic, "cat-file", "commit", first)
    git(hermetic, "config", "user.name", "Someone Else")  # a config change is seen at once
    assert "author Someone Else <test@example.com>" in _git_in(hermetic, "cat-file", "commit",
                                                                repo.commit_tree(tree, [], "y"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Env Author")
    text = _git_in(hermetic, "cat-file", "commit", repo.commit_tree(tree, [], "z"))
    assert "author Env Author <test@example.com>" in text and "committer Someone Else" in text


def test_ref_names_read_from_files_equal_for_each_ref(hermetic):
    git(hermetic, "init", "-q")
    git(hermetic, "commit", "-q", "--allow-empty", "-m", "a")
    for name in ("models/m/v1", "models/m/v2", "models/m2/v1", "models/m/production/1"):
        git(hermetic, "tag", "-a", "-m", "x", name)
    git(hermetic, "pack-refs", "--all")
    git(hermetic, "tag", "-a", "-m", "x", "models/m/v3")  # loose beside packed
    git(hermetic, "tag", "-d", "models/m/v1")             # deleted from packed-refs
    repo = GitRepo.discover(hermetic)
    for prefix in ("refs/tags/models/m/", "refs/tags/models/", "refs/tags/models/none/"):
        expected = _git_in(hermetic, "for-each-ref", "--format=%(refname)", prefix).split()
        assert repo.ref_names(prefix) == expected
    assert repo.commit_of("refs/heads/main") == _git_in(hermetic, "rev-parse", "main")
    git(hermetic, "pack-refs", "--all")
    assert repo.commit_of("refs/heads/main") == _git_in(hermetic, "rev-parse", "main")
    assert repo.commit_of("refs/heads/nope") is None


def test_objects_are_written_after_git_gc_removed_the_emptied_object_folders(hermetic):
    """A long-lived process must not trust an object folder it wrote to once: git's gc removes emptied ones."""
    import shutil

    from gitreg.git import blob_id

    git(hermetic, "init", "-q")
    repo = GitRepo.discover(hermetic)
    first = repo.write_blob(b"x0")
    twin = next(f"x{i}".encode() for i in range(1, 100000) if blob_id(f"x{i}".encode())[:2] == first[:2])
    shutil.rmtree(hermetic / ".git" / "objects" / first[:2])  # as `git gc` leaves it after packing
    oid = repo.write_blob(twin)
    assert oid[:2] == first[:2]
    assert _git_in(hermetic, "cat-file", "-p", oid) == twin.decode()


def test_paths_through_written_commits_resolve_like_git_does(tmp_path):
    """A write reads back its own commit's trees from memory; the answers are git's, missing is missing."""
    repo_dir = tmp_path / "r"
    git(tmp_path, "init", "-q", str(repo_dir))
    writer = GitRepo.discover(repo_dir)
    tree = writer.update_paths(None, {"a/b/c.txt": b"hello\n", "a/d.txt": b"x\n", "e.txt": b"y\n"})
    commit = writer.commit_tree(tree, [], "one")
    fresh = GitRepo.discover(repo_dir)  # asks git for everything
    for request in (f"{commit}^{{tree}}", f"{commit}:", f"{commit}:a", f"{commit}:a/b", f"{commit}:a/b/c.txt",
                    f"{commit}:a/d.txt", f"{commit}:e.txt", f"{commit}:nope", f"{commit}:a/nope/x",
                    f"{commit}:e.txt/inside"):
        assert writer.read_object(request) == fresh.read_object(request), request


def test_trees_rewritten_in_place_keep_git_s_order(tmp_path):
    """Replacing, adding, removing and turning a file into a folder give the trees git itself writes."""
    repo_dir = tmp_path / "r"
    git(tmp_path, "init", "-q", str(repo_dir))
    repo = GitRepo.discover(repo_dir)
    tree = repo.update_paths(None, {"a.txt": b"1", "a/x": b"2", "b": b"3", "a-b": b"4", "c/d/e": b"5"})
    steps = [{"b": b"changed"}, {"a-b": None}, {"aa": b"new"}, {"b": None, "b/inside": b"folder now"},
             {"c/d/e": b"deep change"}, {"a.txt": None, "a/x": None}]
    for change in steps:
        tree = repo.update_paths(tree, change)
        assert git(repo_dir, "fsck", "--strict", "--no-dangling", "--no-progress") == ""
        listing = git(repo_dir, "ls-tree", "-r", "--name-only", tree).splitlines()
        rebuilt = _git_in(repo_dir, "mktree", input=git(repo_dir, "ls-tree", tree) + "\n")
        assert rebuilt == tree, (change, listing)  # git's own mktree (which sorts) writes the same tree


def test_names_added_among_many_are_placed_where_git_puts_them(tmp_path):
    """New names are put in place by bisection (no whole sort): random additions, replacements and removals,
    several in one change and on names that git orders tricky ("a", "a-b", "a.b", "a/"), give git's trees."""
    import random

    repo_dir = tmp_path / "r"
    git(tmp_path, "init", "-q", str(repo_dir))
    repo = GitRepo.discover(repo_dir)
    rng = random.Random(7)
    stems = ["a", "a-b", "a.b", "a0", "a_", "b", "ab", "a b", "é", "Z", "z", "10", "9", "a.yaml", "runs"]
    tree = repo.update_paths(None, {f"top/{s}-{i}": b"seed" for i, s in enumerate(stems)})
    for round_ in range(40):
        change: dict[str, bytes | None] = {}
        for _ in range(rng.randint(1, 4)):
            stem = rng.choice(stems) + rng.choice(["", "-x", ".y", "/inner"])
            change[f"top/{stem}"] = None if rng.random() < 0.2 else f"{round_}".encode()
        tree = repo.update_paths(tree, change)
        top = _git_in(repo_dir, "rev-parse", f"{tree}:top")
        listing = _git_in(repo_dir, "ls-tree", top)
        assert _git_in(repo_dir, "mktree", input=listing + "\n") == top, change  # git's own (sorted) tree
    assert git(repo_dir, "fsck", "--strict", "--no-dangling", "--no-progress") == ""


@pytest.mark.fastpath_only("objects")
def test_a_tree_of_a_few_hundred_entries_is_written_stored(tmp_path):
    """A folder of some hundred manifests (a model's versions, the run records) is rewritten by every write:
    its tree goes uncompressed ("stored"), and git reads it as any other."""
    import zlib

    repo_dir = tmp_path / "r"
    git(tmp_path, "init", "-q", str(repo_dir))
    repo = GitRepo.discover(repo_dir)
    tree = repo.update_paths(None, {f"versions/{i}.yaml": f"number: {i}\n".encode() for i in range(300)})
    versions = repo.resolve(f"{tree}:versions")
    loose = repo_dir / ".git" / "objects" / versions[:2] / versions[2:]
    body = zlib.decompress(loose.read_bytes())
    assert loose.stat().st_size > len(body) > 4 * 1024
    few = repo.resolve(f"{repo.update_paths(None, {f'{i}.yaml': b'x' for i in range(50)})}")
    loose = repo_dir / ".git" / "objects" / few[:2] / few[2:]
    assert loose.stat().st_size < len(zlib.decompress(loose.read_bytes())) < 4 * 1024  # compressed, as git does
    assert _git_in(repo_dir, "ls-tree", versions).count("\n") == 299
    assert git(repo_dir, "fsck", "--strict", "--no-dangling", "--no-progress") == ""


@pytest.mark.fastpath_only("objects")
def test_a_large_tree_read_from_git_and_rewritten_is_the_tree_git_writes(tmp_path):
    """Entries read from git are copied as they are (their bytes), changed ones encoded anew; a large
    tree is written uncompressed ("stored"), which git reads as any other loose object."""
    import zlib

    repo_dir = tmp_path / "r"
    git(tmp_path, "init", "-q", str(repo_dir))
    files = {f"models/m{i}/model.yaml": f"name: m{i}\n".encode() for i in range(3000)}
    tree = GitRepo.discover(repo_dir).update_paths(None, files)
    commit = _git_in(repo_dir, "commit-tree", tree, "-m", "many models")
    repo = GitRepo.discover(repo_dir)  # a new handle: every tree is read (parsed) from git now
    new_tree = repo.update_paths(repo.resolve(f"{commit}^{{tree}}"),
                                 {"models/m1500/model.yaml": b"name: m1500\nchanged: true\n",
                                  "models/m0/model.yaml": None, "models/new/model.yaml": b"name: new\n"})
    models = repo.resolve(f"{new_tree}:models")
    listing = _git_in(repo_dir, "ls-tree", models)
    assert _git_in(repo_dir, "mktree", input=listing + "\n") == models  # git's own tree of the same entries
    assert "\tm0\n" not in listing + "\n" and "\tnew" in listing
    assert _git_in(repo_dir, "show", f"{new_tree}:models/m1500/model.yaml") == "name: m1500\nchanged: true"
    loose = repo_dir / ".git" / "objects" / models[:2] / models[2:]
    body = zlib.decompress(loose.read_bytes())
    assert loose.stat().st_size > len(body) > 64 * 1024  # stored: no smaller than what it holds
    assert git(repo_dir, "fsck", "--strict", "--no-dangling", "--no-progress") == ""


def test_packed_refs_are_found_by_bisecting_and_agree_with_git(hermetic):
    """Many packed tags (annotated: each followed by its peeled line) and branches: every folder of
    refs and every single ref read from packed-refs is what git lists, also from a file without git's
    "sorted" header (read whole then)."""
    import random

    git(hermetic, "init", "-q")
    git(hermetic, "commit", "-q", "--allow-empty", "-m", "a")
    commit = _git_in(hermetic, "rev-parse", "HEAD")
    tag = _git_in(hermetic, "mktag", input=f"object {commit}\ntype commit\ntag t\ntagger A <a@b> 1 +0000\n\nx\n")
    names = [f"refs/tags/models/m{i}/v{n}" for i in range(300) for n in (1, 2, 10)]
    names += [f"refs/tags/models/m{i}/production/1" for i in range(0, 300, 7)] + ["refs/heads/a", "refs/heads/z-z"]
    lines = "".join(f"update {name} {tag if '/tags/' in name else commit}\n" for name in names)
    subprocess.run(["git", "update-ref", "--stdin"], cwd=hermetic, input=lines, text=True, check=True)
    git(hermetic, "pack-refs", "--all")
    packed = (hermetic / ".git" / "packed-refs").read_text()
    assert packed.startswith("# pack-refs with:") and " sorted" in packed.splitlines()[0] and "\n^" in packed
    prefixes = ["refs/tags/models/m0/", "refs/tags/models/m1/", "refs/tags/models/m299/", "refs/tags/models/m15/",
                "refs/tags/models/m150/production/", "refs/tags/models/none/", "refs/tags/", "refs/heads/",
                "refs/tags/models/m2", "refs/zzz/", "refs/a/"]
    expected = {p: _git_in(hermetic, "for-each-ref", "--format=%(refname)", p).split() for p in prefixes}
    singles = ["refs/heads/main", "refs/heads/a", "refs/heads/z-z", "refs/heads/zz", "refs/tags/models/m42/v10",
               "refs/tags/models/m42/v1", "refs/tags/models/m42/v3", "refs/tags/models/m299/v10"]
    values = {ref: (_git_in(hermetic, "rev-parse", "-q", "--verify", ref) if ref in names or ref.endswith("main")
                    else None) for ref in singles}
    for header in (True, False):
        if not header:  # the same refs, shuffled, under a header that does not promise order
            body = [line for line in packed.splitlines()[1:]]
            pairs = [(body[k], body[k + 1] if k + 1 < len(body) and body[k + 1].startswith("^") else None)
                     for k in range(len(body)) if not body[k].startswith("^")]
            random.Random(4).shuffle(pairs)
            text = "# pack-refs with: peeled\n" + "".join(a + "\n" + (b + "\n" if b else "") for a, b in pairs)
            (hermetic / ".git" / "packed-refs").write_text(text)
        repo = GitRepo.discover(hermetic)
        for prefix in prefixes:
            assert repo.ref_names(prefix) == expected[prefix], (header, prefix)
        for ref, value in values.items():
            assert repo.read_ref(ref) == value, (header, ref)
