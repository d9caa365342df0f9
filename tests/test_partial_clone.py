"""A registry opened by URL from a host that serves blob-less clones: the clone brings commits and
trees, and a read fetches the files it needs in one request (never one request per file)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import git
from gitreg import Client
from gitreg.cli.app import main
from gitreg.errors import RemoteError
from gitreg.remote import clone_path

MODELS = ("alpha", "beta", "gamma")
VERSIONS = 4


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bare repository holding three models of four versions (beta's v2 in production)."""
    seed = tmp_path / "seed"
    client = Client.init(seed, store=str(tmp_path / "store"))
    for name in MODELS:
        for n in range(VERSIONS):
            client.create_model_version(name, metadata={"n": n})
    client.update_model_version("beta", 2, stage="production")
    bare = tmp_path / "srv" / "models.git"
    bare.parent.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(bare)], check=True)
    for ref in git(seed, "for-each-ref", "--format=%(refname)", "refs/tags").split():
        git(seed, "push", "-q", str(bare), ref)
    monkeypatch.setenv("GITREG_FRESHNESS", "3600")  # reads trust the clone: only file fetches reach the host
    return bare


def url(bare: Path) -> str:
    return "file://" + str(bare)


def packs(bare: Path) -> int:
    return len(list((clone_path(url(bare)) / "objects" / "pack").glob("*.pack")))


def missing(bare: Path, tree: str = "--all") -> list[str]:
    clone = clone_path(url(bare))
    args = ["rev-list", "--objects", "--missing=print"]
    args += ["--all"] if tree == "--all" else [git(clone, "rev-parse", f"HEAD:{tree}")]
    return [line for line in git(clone, *args).splitlines() if line.startswith("?")]


def test_first_use_clones_no_file_contents_and_a_read_fetches_a_models_files_in_one_request(hub):
    client = Client(url(hub))
    assert client.get_model_version("alpha", "latest").number == VERSIONS
    clone = clone_path(url(hub))
    assert (clone / "gitreg" / "partial").is_file()
    assert missing(hub, ".mcp/models/alpha") == []
    # its card, stages.yaml (it has a version in production) and versions: not here yet
    assert len(missing(hub, ".mcp/models/beta")) == VERSIONS + 2
    before = packs(hub)
    versions = Client(url(hub)).list_model_versions("beta")  # another process would open it like this
    assert [v.number for v in versions] == [1, 2, 3, 4]
    assert packs(hub) == before + 1  # one request for the model's six files, not six
    assert missing(hub, ".mcp/models/beta") == []
    assert len(missing(hub, ".mcp/models/gamma")) == VERSIONS + 1
    Client(url(hub)).list_model_versions("beta")
    assert packs(hub) == before + 1  # nothing missing: nothing fetched


def test_reading_every_model_completes_the_clone(hub):
    client = Client(url(hub))
    assert sorted(m.name for m in client.list_models()) == list(MODELS)
    assert not (clone_path(url(hub)) / "gitreg" / "partial").exists()
    assert missing(hub) == []
    assert Client(url(hub)).check().ok


def test_a_write_from_a_partial_clone_reaches_the_remote_with_its_tags(hub, tmp_path, monkeypatch):
    client = Client(url(hub))
    assert client.create_model_version("gamma").number == VERSIONS + 1
    client.update_model_version("gamma", VERSIONS + 1, stage="staging")
    tags = git(hub, "tag", "-l", "models/gamma/*").splitlines()
    assert "models/gamma/v5" in tags and "models/gamma/staging/1" in tags
    # what the remote holds reads whole from a complete clone elsewhere
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "other-cache"))
    monkeypatch.setenv("GITREG_CLONE_FILTER", "none")
    other = Client(url(hub))
    assert other.get_model_version("gamma", "staging").number == VERSIONS + 1
    assert not (clone_path(url(hub)) / "gitreg" / "partial").exists()
    assert other.check().ok


def test_history_reads_old_manifests_in_one_request(hub):
    client = Client(url(hub))
    client.get_model("beta")  # the model's current files are here now
    before = packs(hub)
    events = client.version_history("beta", 2)
    assert [(e.kind, e.to_stage) for e in events] == [("registered", "none"), ("stage", "production")]
    assert packs(hub) - before <= 1


def test_a_host_that_refuses_filters_gives_an_ordinary_clone(hub):
    git(hub, "config", "uploadpack.allowFilter", "false")
    client = Client(url(hub))
    assert client.get_model_version("beta", "production").number == 2
    clone = clone_path(url(hub))
    assert not (clone / "gitreg" / "partial").exists()
    assert git(clone, "config", "--get-regexp", "^remote\\.origin\\.", ).find("promisor") == -1
    assert missing(hub) == []


def test_clone_filter_none_asks_for_a_complete_clone(hub, monkeypatch):
    monkeypatch.setenv("GITREG_CLONE_FILTER", "none")
    Client(url(hub)).get_model("alpha")
    assert not (clone_path(url(hub)) / "gitreg" / "partial").exists()
    assert missing(hub) == []


def test_files_that_cannot_be_fetched_are_a_remote_error_saying_what_to_do(hub, tmp_path, capsys):
    Client(url(hub)).get_model("alpha")
    hub.rename(tmp_path / "moved.git")  # the host is gone after the clone was made
    with pytest.raises(RemoteError) as err:
        Client(url(hub)).get_model("beta")
    assert "cannot reach" in str(err.value) and "registry file" in str(err.value)
    assert main(["--repo", url(hub), "model", "version", "list", "beta"]) == RemoteError.exit_code
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "cannot reach" in out.err
    (tmp_path / "moved.git").rename(hub)  # back: the same clone reads it now
    assert Client(url(hub)).get_model_version("beta", "production").number == 2


def test_listing_runs_fetches_their_files_in_one_request(tmp_path, monkeypatch):
    from typing import Annotated

    from gitreg import Model, pipeline, step

    seed = tmp_path / "seed"
    Client.init(seed, store=str(tmp_path / "store"))
    monkeypatch.chdir(seed)

    @step
    def work() -> Annotated[int, "value"]:
        return 1

    @pipeline(model=Model("runs"))
    def training():
        work()

    ids = {training().id for _ in range(3)}
    bare = tmp_path / "srv" / "models.git"
    bare.parent.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(bare)], check=True)
    monkeypatch.setenv("GITREG_FRESHNESS", "3600")
    client = Client(url(bare))  # a repository of its own, so nothing remembered from the writes above
    assert client.get_model_version("runs", "latest").number == 3
    before = packs(bare)
    assert {r.id for r in client.list_runs()} == ids
    assert packs(bare) == before + 1  # three run files, one request


def test_check_on_a_partial_clone_completes_it_first(hub):
    client = Client(url(hub))
    client.get_model("alpha")
    assert (clone_path(url(hub)) / "gitreg" / "partial").exists()
    before = packs(hub)
    report = client.check()
    assert report.ok, report.problems
    assert missing(hub) == [] and not (clone_path(url(hub)) / "gitreg" / "partial").exists()
    assert packs(hub) == before + 1  # everything the clone lacked, in one request


def test_a_clone_that_fails_after_git_made_it_leaves_nothing_in_the_cache(hub, monkeypatch):
    from gitreg.git import partial

    def unreachable(repo, remote, oids):
        raise RemoteError(remote, "fetching 1 registry file(s) this clone lacks: cannot reach it")

    real = partial.fetch
    monkeypatch.setattr(partial, "fetch", unreachable)
    with pytest.raises(RemoteError):
        Client(url(hub)).get_model("alpha")
    clones = clone_path(url(hub)).parent
    assert not clones.exists() or list(clones.iterdir()) == []
    monkeypatch.setattr(partial, "fetch", real)
    assert Client(url(hub)).get_model_version("beta", "production").number == 2  # a later try starts clean
