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
    return seen


def test_writes_to_other_models_do_not_read_the_index_again(client, commands):
    for name in ("a", "b", "c"):
        client.create_model_version(name)
    commands.clear()
    client.log_metadata("a", 1, {"x": 1})
    client.log_metadata("b", 1, {"x": 2})
    client.create_model_version("c")
    # each write: one ref transaction and one index update; the index is not read (no ls-files)
    assert commands.count("ls-files") == 0, commands
    assert commands.count("update-ref") == 3 and commands.count("update-index") == 3


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
