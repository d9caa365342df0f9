"""Every error's suggested fix works as written: each test runs the command the message names."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import git
from gitreg import Client
from gitreg.cli.app import main
from gitreg.errors import AlreadyExistsError, DivergedError, ModelNotFoundError, RemoteError


def suggested(message: str, after: str = "") -> str:
    """The first `command` in backticks in ``message`` (after the text ``after``)."""
    text = message.split(after, 1)[1] if after else message
    found = re.search(r"`([^`]+)`", text)
    assert found, f"no command in: {message}"
    return found.group(1)


def run(command: str, cwd: Path) -> None:
    if command.startswith("gitreg "):
        assert main(command.split()[1:]) == 0
    else:
        subprocess.run(command, shell=True, cwd=cwd, check=True, capture_output=True)


def test_model_not_found_suggests_registering_it(repo, client):
    with pytest.raises(ModelNotFoundError) as info:
        client.get_model("iris")
    run(suggested(info.value.message, "register it with"), repo)
    assert client.get_model("iris").name == "iris"


def test_an_existing_proposal_branch_suggests_deleting_it(repo, client):
    client.create_model_version("iris")
    client.propose_model_version_stage("iris", 1, "staging")
    with pytest.raises(AlreadyExistsError) as info:
        client.propose_model_version_stage("iris", 1, "staging")
    run(suggested(info.value.message), repo)
    assert client.propose_model_version_stage("iris", 1, "staging").branch == "gitreg/promote/iris-v1-staging"


def _shared(tmp_path: Path) -> tuple[Path, Path]:
    seed = tmp_path / "seed"
    Client.init(seed, store=str(tmp_path / "store"))
    (seed / ".mcp/registry.yaml").write_text((seed / ".mcp/registry.yaml").read_text() + "remote: origin\n")
    bare = tmp_path / "models.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(bare)], check=True)
    git(seed, "commit", "-qam", "share")
    git(seed, "remote", "add", "origin", str(bare))
    git(seed, "push", "-q", "origin", "main")
    return seed, bare


def test_a_missing_remote_suggests_adding_it(tmp_path):
    seed, bare = _shared(tmp_path)
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True)
    git(work, "remote", "remove", "origin")
    with pytest.raises(RemoteError) as info:
        Client(work)
    run(suggested(info.value.message).replace("URL", str(bare)), work)
    assert Client(work).create_model_version("iris").number == 1


def test_diverged_suggests_pull_rebase(tmp_path):
    seed, bare = _shared(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    for clone in (a, b):
        subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True)
    (a / "train.py").write_text("x = 1\n")
    git(a, "add", "train.py")
    git(a, "commit", "-qm", "code")
    git(a, "push", "-q", "origin", "main")
    (b / "other.py").write_text("y = 2\n")
    git(b, "add", "other.py")
    git(b, "commit", "-qm", "other code")
    with pytest.raises(DivergedError) as info:
        Client(b).create_model_version("iris")
    run(suggested(info.value.message, "reconcile them with"), b)
    assert Client(b).create_model_version("iris").number == 1
