"""Registries shared through a git remote: by URL (cached clone) or from a code repository's origin."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
from pathlib import Path

import pytest

from conftest import git
from gitreg import Client
from gitreg.errors import AuthenticationError, DivergedError, NotARegistryError, RemoteError
from gitreg.remote import clone_path, redact
from gitserver import GitHTTPServer


@pytest.fixture
def remote_repo(tmp_path: Path) -> Path:
    """A bare repository holding a registry (store: an absolute folder), like one on a git host."""
    seed = tmp_path / "seed"
    Client.init(seed, store=str(tmp_path / "store"))
    bare = tmp_path / "srv" / "models.git"
    bare.parent.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(bare)], check=True)
    git(bare, "config", "http.receivepack", "true")
    return bare


def file_url(path: Path) -> str:
    return "file://" + str(path)


def remote_tags(bare: Path, pattern: str) -> list[str]:
    return git(bare, "tag", "-l", pattern).splitlines()


def test_open_by_file_url_reads_and_writes_through_the_remote(remote_repo):
    url = file_url(remote_repo)
    client = Client(url)
    v = client.create_model_version("iris", metadata={"accuracy": 0.9})
    assert v.number == 1
    # on the remote: the commit and its tag
    assert git(remote_repo, "log", "-1", "--format=%s", "main") == "iris v1 registered"
    assert remote_tags(remote_repo, "models/iris/*") == ["models/iris/v1"]
    # a second client (another machine: another cache) sees it
    other_cache = remote_repo.parent / "cache2"
    os.environ["GITREG_CACHE_DIR"] = str(other_cache)
    try:
        other = Client(url)
        assert other.get_model_version("iris", "latest").metadata["accuracy"] == 0.9
        assert clone_path(url).is_relative_to(other_cache)
    finally:
        del os.environ["GITREG_CACHE_DIR"]
    assert clone_path(url).is_dir()


def test_reads_fetch_after_the_freshness_window_and_on_refresh(remote_repo, tmp_path, monkeypatch):
    url = file_url(remote_repo)
    monkeypatch.setenv("GITREG_FRESHNESS", "3600")
    reader = Client(url)
    with pytest.raises(KeyError):
        reader.get_model("iris")
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "writer-cache"))
    Client(url).create_model("iris")
    monkeypatch.delenv("GITREG_CACHE_DIR")
    with pytest.raises(KeyError):  # still within the window: the cache is trusted
        reader.get_model("iris")
    reader.refresh()
    assert reader.get_model("iris").name == "iris"
    monkeypatch.setenv("GITREG_FRESHNESS", "0")
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "writer-cache"))
    Client(url).update_model("iris", description="fetched")
    monkeypatch.delenv("GITREG_CACHE_DIR")
    assert reader.get_model("iris").description == "fetched"


def test_gitreg_repo_env_and_cli_take_a_url(remote_repo, monkeypatch):
    from gitreg.cli.app import main

    url = file_url(remote_repo)
    assert main(["--repo", url, "model", "register", "iris"]) == 0
    monkeypatch.setenv("GITREG_REPO", url)
    assert main(["model", "version", "create", "iris"]) == 0
    assert Client().get_model_version("iris").number == 1
    assert remote_tags(remote_repo, "models/iris/*") == ["models/iris/v1"]


def test_smart_http_remote_with_credentials_never_printed(remote_repo, capsys):
    from gitreg.cli.app import main

    with GitHTTPServer(remote_repo.parent, credentials=("alice", "s3cret-token")) as server:
        good = server.url("models.git", auth="alice:s3cret-token")
        client = Client(good)
        client.create_model_version("iris")
        assert remote_tags(remote_repo, "models/iris/*") == ["models/iris/v1"]
        # wrong password: an authentication error that names neither password
        bad = server.url("models.git", auth="alice:wrong-pass")
        with pytest.raises(AuthenticationError) as info:
            Client(bad)
        assert "wrong-pass" not in str(info.value) and "s3cret" not in str(info.value)
        assert main(["--repo", bad, "model", "list"]) == AuthenticationError.exit_code
        # no credentials at all (and no terminal to ask on)
        assert main(["--repo", server.url("models.git"), "model", "list"]) == AuthenticationError.exit_code
    err = capsys.readouterr().err
    assert "credentials" in err and "wrong-pass" not in err and "s3cret" not in err
    assert "s3cret" not in subprocess.run(["git", "-C", str(remote_repo), "log", "-p", "--all"],
                                          capture_output=True, text=True).stdout


def test_unreachable_remote_and_not_a_registry(tmp_path, capsys):
    from gitreg.cli.app import main

    with pytest.raises(RemoteError) as info:
        Client(file_url(tmp_path / "nowhere.git"))
    assert "cannot reach" in str(info.value)
    assert main(["--repo", "http://127.0.0.1:9/models.git", "model", "list"]) == RemoteError.exit_code
    assert "cannot reach" in capsys.readouterr().err
    plain = tmp_path / "plain"
    plain.mkdir()
    git(plain, "init", "-q")
    (plain / "README").write_text("hi\n")
    git(plain, "add", "README")
    git(plain, "commit", "-qm", "code")
    with pytest.raises(NotARegistryError, match="not a gitreg registry"):
        Client(file_url(plain))
    empty = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", str(empty))
    with pytest.raises(NotARegistryError, match="empty repository"):
        Client(file_url(empty))


def test_diverged_cached_clone_is_a_clear_error(remote_repo, tmp_path):
    url = file_url(remote_repo)
    client = Client(url)
    client.create_model("iris")
    # someone rewrites the remote's history
    work = tmp_path / "rewrite"
    subprocess.run(["git", "clone", "-q", str(remote_repo), str(work)], check=True)
    git(work, "reset", "-q", "--hard", "HEAD~1")
    (work / "x").write_text("x\n")
    git(work, "add", "x")
    git(work, "commit", "-qm", "rewritten")
    git(work, "push", "-q", "--force", "origin", "main")
    with pytest.raises(DivergedError, match="diverged"):
        client.refresh()


# ---------------------------------------------------------------- a registry inside a code repository

@pytest.fixture
def code_clones(remote_repo, tmp_path):
    """The registry's remote named in registry.yaml, and a function making working clones of it."""
    seed = tmp_path / "setup"
    subprocess.run(["git", "clone", "-q", str(remote_repo), str(seed)], check=True)
    text = (seed / ".mcp/registry.yaml").read_text()
    (seed / ".mcp/registry.yaml").write_text(text + "remote: origin\n")
    git(seed, "commit", "-qam", "registry: push to origin")
    git(seed, "push", "-q", "origin", "main")

    def make(name: str) -> Path:
        path = tmp_path / name
        subprocess.run(["git", "clone", "-q", str(remote_repo), str(path)], check=True)
        return path

    return make


def test_code_repository_writes_push_and_retry_on_the_fetched_head(code_clones, remote_repo):
    a, b = code_clones("a"), code_clones("b")
    Client(a).create_model_version("iris")
    (b / "train.py").write_text("print('local work, not committed')\n")
    v = Client(b).create_model_version("iris")  # b's branch is behind: built on the fetched head
    assert v.number == 2
    assert git(b, "rev-parse", "HEAD") == git(remote_repo, "rev-parse", "main")
    assert (b / ".mcp/models/iris/versions/1.yaml").is_file()
    assert (b / "train.py").read_text().startswith("print")  # untouched
    assert git(b, "status", "--porcelain") == "?? train.py"
    assert remote_tags(remote_repo, "models/iris/*") == ["models/iris/v1", "models/iris/v2"]


def test_code_repository_behind_with_code_changes_is_diverged(code_clones):
    a, b = code_clones("a"), code_clones("b")
    (a / "train.py").write_text("x = 1\n")
    git(a, "add", "train.py")
    git(a, "commit", "-qm", "code")
    git(a, "push", "-q", "origin", "main")
    with pytest.raises(DivergedError, match="outside .mcp/"):
        Client(b).create_model_version("iris")
    # and both ahead: diverged
    (b / "other.py").write_text("y = 2\n")
    git(b, "add", "other.py")
    git(b, "commit", "-qm", "other code")
    with pytest.raises(DivergedError, match="diverged"):
        Client(b).create_model_version("iris")


def test_missing_remote_named_in_registry_yaml(code_clones):
    a = code_clones("a")
    git(a, "remote", "rename", "origin", "upstream")
    with pytest.raises(RemoteError, match="no such remote"):
        Client(a)


# ---------------------------------------------------------------- many clones at once

def _register_from_clone(args):
    url, cache, count = args
    os.environ["GITREG_CACHE_DIR"] = cache
    client = Client(url)
    return [client.create_model_version("iris").number for _ in range(count)]


def test_four_clones_register_concurrently_without_gaps_or_duplicates(remote_repo, tmp_path):
    url = file_url(remote_repo)
    Client(url).create_model("iris")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.map(_register_from_clone, [(url, str(tmp_path / f"cache{i}"), 25) for i in range(4)])
    numbers = sorted(n for chunk in results for n in chunk)
    assert numbers == list(range(1, 101))
    assert len(remote_tags(remote_repo, "models/iris/v*")) == 100
    files = git(remote_repo, "ls-tree", "--name-only", "main:.mcp/models/iris/versions").splitlines()
    assert sorted(int(f[:-5]) for f in files) == list(range(1, 101))
    # tags made for pushes that lost the race were removed again: every local tag is the remote's
    on_remote = {line.split()[0] for line in git(remote_repo, "show-ref", "--tags").splitlines()}
    for i in range(4):
        [clone] = (tmp_path / f"cache{i}" / "clones").iterdir()
        assert {line.split()[0] for line in git(clone, "show-ref", "--tags").splitlines()} <= on_remote


def _promote_from_clone(args):
    url, cache, numbers = args
    os.environ["GITREG_CACHE_DIR"] = cache
    client = Client(url)
    for n in numbers:
        client.update_model_version("iris", n, stage="production", force=True)


def test_concurrent_promotions_over_http_keep_the_stage_exclusive_at_every_commit(remote_repo, tmp_path):
    from gitreg.check import check
    from gitreg.git import GitRepo

    with GitHTTPServer(remote_repo.parent) as server:
        url = server.url("models.git")
        client = Client(url)
        for _ in range(8):
            client.create_model_version("iris")
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(4) as pool:
            pool.map(_promote_from_clone, [(url, str(tmp_path / f"c{i}"), [i + 1, i + 5]) for i in range(4)])
    repo = GitRepo(remote_repo, remote_repo, remote_repo, bare=True)
    for commit in git(remote_repo, "rev-list", "main").split():
        report = check(repo, commit)
        assert not [p for p in report.errors if "exclusive" in p.message], commit
    assert check(repo, "main").ok
    assert len(remote_tags(remote_repo, "models/iris/production/*")) == 8


def test_redact_hides_credentials():
    assert redact("https://bob:pw@host/x.git failed") == "https://***@host/x.git failed"
    assert redact("https://ghp_token@github.com/o/r") == "https://***@github.com/o/r"
    assert redact("git@github.com:o/r.git") == "git@github.com:o/r.git"


def test_init_with_a_remote_pushes_its_first_commit(tmp_path, monkeypatch):
    from gitreg.cli.app import main

    bare = tmp_path / "hub.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    work = tmp_path / "proj"
    work.mkdir()
    git(work, "init", "-q")
    git(work, "remote", "add", "origin", str(bare))
    monkeypatch.chdir(work)
    assert main(["init", "--remote", "origin", "--store", str(tmp_path / "store")]) == 0
    assert "remote: origin" in git(bare, "show", "main:.mcp/registry.yaml")
    Client(work).create_model_version("iris")
    assert git(bare, "tag", "-l") == "models/iris/v1"
    assert main(["init", "--remote", "upstream"]) != 0


def test_a_retry_on_a_moved_remote_still_protects_uncommitted_registry_edits(code_clones, monkeypatch):
    """First attempt builds on the local branch; the push loses a race; the retry must move
    all of .mcp/ forward, so it must check all of .mcp/ for uncommitted edits first."""
    from gitreg.errors import DirtyManifestsError
    from gitreg.remote import Remote

    a, b = code_clones("a"), code_clones("b")
    Client(a).create_model("other")
    git(b, "pull", "-q", "origin", "main")
    card = b / ".mcp/models/other/model.yaml"
    card.write_text(card.read_text() + "# uncommitted hand edit\n")
    real_push = Remote.push_branch
    raced = []

    def push_losing_once(self, commit, branch=None, extra_refs=()):
        if not raced:
            raced.append(1)
            Client(a).update_model("other", description="changed elsewhere")
            return False
        return real_push(self, commit, branch, extra_refs)

    monkeypatch.setattr(Remote, "push_branch", push_losing_once)
    with pytest.raises(DirtyManifestsError, match="other/model.yaml"):
        Client(b).create_model_version("iris")
    assert card.read_text().endswith("# uncommitted hand edit\n")


def test_a_repository_keeping_its_refs_in_reftable_is_refused_saying_how_to_convert(repo, capsys):
    from gitreg.cli.app import main
    from gitreg.errors import GitError

    (repo / ".git" / "reftable").mkdir()  # what git 2.45+ makes for --ref-format=reftable
    with pytest.raises(GitError, match="reftable"):
        Client(repo)
    assert main(["model", "list"]) == GitError.exit_code
    err = capsys.readouterr().err
    assert "git refs migrate --ref-format=files" in err and "Traceback" not in err
