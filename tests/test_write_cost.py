"""What a write reads and runs: nothing that grows with other models, and no safety given up for it."""

from __future__ import annotations

import pytest

from conftest import git
from gitreg import Client
from gitreg.errors import DirtyManifestsError
from gitreg.git import GitRepo


@pytest.fixture
def commands(monkeypatch):
    """The git subcommands gitreg runs, in order."""
    seen: list[str] = []
    real = GitRepo.run

    def run(self, *args, **kwargs):
        seen.append(args[0])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(GitRepo, "run", run)
    from gitreg.git.repo import RefTransactions

    real_commit = RefTransactions.commit

    def commit(self, lines):  # ref transactions go to one long-lived `git update-ref --stdin`
        seen.append("update-ref")
        return real_commit(self, lines)

    monkeypatch.setattr(RefTransactions, "commit", commit)
    from gitreg.git import index

    real_update = index.update_entries

    def update_entries(path, files):  # a small plain index is edited in-process: no git process
        outcome = real_update(path, files)
        seen.append(f"index {outcome}")
        return outcome

    monkeypatch.setattr(index, "update_entries", update_entries)
    return seen


@pytest.mark.fastpath_only("index", "index-note", "objects", "refs", "ref-updates", "git-config")
def test_writes_to_other_models_do_not_read_the_index_again(client, commands):
    for name in ("a", "b", "c"):
        client.create_model_version(name)
    commands.clear()
    client.log_metadata("a", 1, {"x": 1})
    client.log_metadata("b", 1, {"x": 2})
    client.create_model_version("c")
    # each write: one ref transaction and one index update (in-process); the index is not read (no ls-files)
    assert commands == ["update-ref", "index done"] * 3


def test_a_staged_edit_to_another_model_is_still_refused(client, repo):
    client.create_model_version("a")
    client.create_model_version("b")
    path = repo / ".mcp/models/b/versions/1.yaml"
    path.write_text(path.read_text().replace("name: '1'", "name: edited"))
    git(repo, "add", str(path))
    client.log_metadata("a", 1, {"x": 1})  # a is clean: this write goes through
    with pytest.raises(DirtyManifestsError) as info:
        client.log_metadata("b", 1, {"x": 2})
    assert ".mcp/models/b/versions/1.yaml" in str(info.value)


def test_an_edit_with_its_stat_put_back_is_still_seen(client, repo):
    """A work-tree file whose content changed but whose size and times were restored is read and caught."""
    import os

    client.create_model_version("a")
    client.create_model_version("b")
    path = repo / ".mcp/models/a/versions/1.yaml"
    before = os.stat(path)
    text = path.read_text()
    path.write_text(text.replace("number: 1", "number: 7"))  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(DirtyManifestsError):
        client.log_metadata("a", 1, {"x": 1})


def test_a_second_client_process_trusts_the_note_too(repo):
    first = Client(repo)
    first.create_model_version("a")
    first.create_model_version("b")
    second = Client(repo)  # another process would read the same note from the git dir
    second.log_metadata("a", 1, {"x": 1})
    assert git(repo, "status", "--porcelain", "--", ".mcp") == ""


@pytest.mark.fastpath_only("state-memo")
def test_a_model_written_in_this_process_reads_back_without_parsing_and_exactly(client, repo, monkeypatch):
    import gitreg.manifests as manifests

    client.create_model_version("m", metadata={"params": {"gamma": 1}})
    client.create_model_version("m", metadata={"params": {"gamma": 2}})
    calls = []
    real = manifests.parse_yaml
    monkeypatch.setattr(manifests, "parse_yaml", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    from gitreg.state import snapshot, validation

    for module in (snapshot, validation):  # the two that parse manifests
        monkeypatch.setattr(module, "parse_yaml", manifests.parse_yaml)
    client.log_metadata("m", 1, {"acc": 0.5})
    versions = client.list_model_versions("m")
    assert [dict(v.metadata) for v in versions] == [{"params": {"gamma": 1}, "acc": 0.5}, {"params": {"gamma": 2}}]
    assert all("versions/2.yaml" not in path for path in calls), calls  # v2 was not parsed again
    # what a fresh process reads agrees
    assert [dict(v.metadata) for v in Client(repo).list_model_versions("m")] == [dict(v.metadata) for v in versions]


def test_changing_a_returned_manifest_does_not_change_the_registry(client, repo):
    from gitreg.state import memo_of

    client.create_model_version("m", metadata={"params": {"gamma": 1}})
    v1 = client.get_model_version("m", 1)
    v1.metadata["params"]["gamma"] = 99  # a caller's own object: nothing stops this
    client.create_model_version("m")      # the write caches the new model tree for other processes
    memo_of(client.registry.repo).clear()
    assert client.get_model_version("m", 1).metadata["params"]["gamma"] == 1
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", "from gitreg import Client; import sys;"
                          " print(Client(sys.argv[1]).get_model_version('m', 1).metadata['params']['gamma'])",
                          str(repo)], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "1"
