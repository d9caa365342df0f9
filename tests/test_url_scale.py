"""Registries opened by URL on ephemeral runners: a narrow cached clone, one network round per write,
numbers never reused without every tag at hand, and registries that tag stage changes only."""

from __future__ import annotations

from pathlib import Path

import pytest

import test_remote
from conftest import git
from gitreg import Client
from gitreg.errors import ManifestError
from gitreg.git import GitRepo
from gitreg.remote import clone_path
from test_remote import file_url, remote_tags

remote_repo = test_remote.remote_repo  # the fixture, shared (a name the tests below take as a parameter)


@pytest.fixture
def network(monkeypatch):
    """Every git fetch, push and clone gitreg runs, in order ("files": a blob-less clone's missing
    files fetched; the host the tests run serves blob-less clones)."""
    calls: list[str] = []
    real_run = GitRepo.run
    real_anywhere = GitRepo.run_anywhere
    real_start = GitRepo.start_anywhere

    def run(self, *args, **kwargs):
        if args and args[0] in ("fetch", "push", "clone", "ls-remote"):
            calls.append(args[0])
        elif "fetch" in args and "--stdin" in args:
            calls.append("files")
        return real_run(self, *args, **kwargs)

    def anywhere(args, cwd):
        if args and args[0] == "clone":
            calls.append("clone")
        return real_anywhere(args, cwd)

    def start(args, cwd):
        if args and args[0] == "clone":
            calls.append("clone")
        return real_start(args, cwd)

    monkeypatch.setattr(GitRepo, "run", run)
    monkeypatch.setattr(GitRepo, "run_anywhere", staticmethod(anywhere))
    monkeypatch.setattr(GitRepo, "start_anywhere", staticmethod(start))
    return calls


def refs_traffic(calls: list[str]) -> list[str]:
    """The calls that move or read the branch and tags (not a model's files)."""
    return [c for c in calls if c != "files"]


def seed_models(remote: Path, names: list[str]) -> None:
    writer = Client(file_url(remote))
    for name in names:
        writer.create_model_version(name)
        writer.update_model_version(name, 1, stage="production")


def local_tags(url: str) -> list[str]:
    return git(clone_path(url), "for-each-ref", "--format=%(refname)", "refs/tags").splitlines()


def test_first_use_clones_the_branch_without_anyone_s_tags(remote_repo, tmp_path, monkeypatch, network):
    seed_models(remote_repo, ["a", "b", "c"])
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "runner"))  # a fresh runner
    url = file_url(remote_repo)
    network.clear()
    client = Client(url)
    assert [v.number for v in client.list_model_versions("b")] == [1]
    assert client.get_model_version("b", "production").number == 1
    # what the clone brought is trusted: no fetch right after it; the registry's own files came with
    # the clone, model b's in one request
    assert network == ["clone", "files", "files"]
    assert local_tags(url) == []
    # the audit trail of one model brings that model's tags, and only those
    assert [e.kind for e in client.version_history("b")] == ["registered", "stage"]
    assert sorted(local_tags(url)) == ["refs/tags/models/b/production/1", "refs/tags/models/b/v1"]


def test_a_write_on_a_fresh_clone_is_one_push(remote_repo, tmp_path, monkeypatch, network):
    seed_models(remote_repo, ["a"])
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "runner"))
    monkeypatch.setenv("GITREG_FRESHNESS", "0")  # reads always fetch; a write right after a fetch does not
    url = file_url(remote_repo)
    network.clear()
    client = Client(url)
    client.create_model_version("a")
    assert refs_traffic(network) == ["clone", "push"]
    network.clear()
    client.log_metadata("a", 2, {"accuracy": 0.9})
    assert network.count("push") == 1 and network.count("fetch") <= 1 and network.count("files") <= 1
    assert git(remote_repo, "log", "-1", "--format=%s", "main").startswith("a v2")
    assert remote_tags(remote_repo, "models/a/v*") == ["models/a/v1", "models/a/v2"]


def test_a_stale_clone_never_reuses_a_number(remote_repo, tmp_path, monkeypatch, network):
    """Runner A's clone is fresh by its clock, but runner B pushed meanwhile: A's first push is refused,
    A fetches and registers the next number; neither needed anyone's tags."""
    url = file_url(remote_repo)
    monkeypatch.setenv("GITREG_FRESHNESS", "3600")
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "runner-a"))
    a = Client(url)
    assert a.create_model_version("m").number == 1
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "runner-b"))
    b = Client(url)
    assert [b.create_model_version("m").number for _ in range(3)] == [2, 3, 4]
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "runner-a"))
    network.clear()
    a = Client(url)  # within its freshness window: no fetch on open
    assert a.create_model_version("m").number == 5
    assert refs_traffic(network) == ["push", "fetch", "push"]  # the refused guess, the fetch, the push that landed
    numbers = sorted(int(t.rsplit("/v", 1)[1]) for t in remote_tags(remote_repo, "models/m/v*"))
    assert numbers == [1, 2, 3, 4, 5]
    assert git(remote_repo, "show", "main:.mcp/models/m/versions/5.yaml").count("number: 5") == 1


def test_after_a_lost_race_writes_fetch_first(remote_repo, tmp_path, monkeypatch, network):
    url = file_url(remote_repo)
    monkeypatch.setenv("GITREG_FRESHNESS", "3600")
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "runner-a"))
    a = Client(url)
    a.create_model_version("m")
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "runner-b"))
    Client(url).create_model_version("m")
    network.clear()
    a.create_model_version("m")  # refused once: contention seen
    a.create_model_version("m")
    assert refs_traffic(network) == ["push", "fetch", "push", "fetch", "push"]


# ---------------------------------------------------------------- registries that tag stage changes only

@pytest.fixture
def light(repo):
    text = (repo / ".mcp/registry.yaml").read_text()
    (repo / ".mcp/registry.yaml").write_text(text + "registration_tags: false\n")
    git(repo, "commit", "-qam", "registry: tag stage changes only")
    return Client(repo)


def test_stage_changes_only_tags_no_registration(repo, light):
    light.create_model_version("m", description="first")
    light.create_model_version("m")
    light.update_model_version("m", 2, stage="production")
    assert git(repo, "tag", "-l", "models/*").splitlines() == ["models/m/production/1"]
    report = light.check()
    assert report.ok, report.problems
    assert light.sync_tags().created == ()
    assert git(repo, "tag", "-l", "models/*").splitlines() == ["models/m/production/1"]


def test_history_reads_registrations_from_the_commits(repo, light):
    light.create_model_version("m", reason="baseline")
    light.create_model_version("m")
    light.update_model_version("m", 1, stage="production", reason="best")
    events = light.version_history("m")
    assert [(e.kind, e.version) for e in events] == [("registered", 1), ("registered", 2), ("stage", 1)]
    first = events[0]
    assert first.reason == "baseline" and first.tag == "" and first.by
    assert git(repo, "log", "-1", "--format=%s", first.commit) == "m v1 registered"


def test_numbers_are_never_reused_without_registration_tags(repo, light):
    for _ in range(3):
        light.create_model_version("m")
    light.delete_model_version("m", 3)
    assert light.create_model_version("m").number == 4


def test_the_option_round_trips_and_is_validated(repo, light):
    assert light.registry.config.registration_tags is False
    text = (repo / ".mcp/registry.yaml").read_text().replace("registration_tags: false", "registration_tags: maybe")
    (repo / ".mcp/registry.yaml").write_text(text)
    git(repo, "commit", "-qam", "broken")
    with pytest.raises(ManifestError, match="registration_tags"):
        Client(repo)


def test_the_site_timeline_shows_registrations_without_registration_tags(repo, light, tmp_path):
    light.create_model_version("m", reason="baseline")
    light.create_model_version("m")
    light.update_model_version("m", 2, stage="production", reason="better")
    light.create_model_version("other")
    from gitreg.site.builder import build_site

    build_site(light.registry, tmp_path / "site")
    page = (tmp_path / "site/models/m/index.html").read_text()
    timeline = page[page.index("Stage timeline"):]
    assert timeline.count("registered") == 2 and "baseline" in timeline and "better" in timeline
    assert timeline.index('href="v1.html"') < timeline.index('href="v2.html"')
    other = (tmp_path / "site/models/other/index.html").read_text()
    assert other[other.index("Stage timeline"):].count("registered") == 1
