"""`gitreg init` where the user says: -C/--repo/GITREG_REPO, a folder inside it, or a git URL."""

from __future__ import annotations

import os

import pytest

from conftest import git
from gitreg import Client
from gitreg.cli.app import main
from gitreg.errors import AlreadyExistsError, InvalidValueError, RemoteError


def test_init_honours_dash_c(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "models"
    assert main(["-C", str(target), "init"]) == 0
    assert (target / ".mcp/registry.yaml").is_file()
    assert not (tmp_path / ".mcp").exists()  # not the current folder
    assert str(target) in capsys.readouterr().err


def test_init_takes_a_folder_inside_dash_c_and_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--repo", str(tmp_path / "base"), "init", "sub"]) == 0
    assert (tmp_path / "base/sub/.mcp/registry.yaml").is_file()
    monkeypatch.setenv("GITREG_REPO", str(tmp_path / "env"))
    assert main(["init"]) == 0
    assert (tmp_path / "env/.mcp/registry.yaml").is_file()
    assert not (tmp_path / ".mcp").exists()


def test_init_by_url_creates_the_registry_on_an_empty_remote(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bare = tmp_path / "srv/models.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    url = "file://" + str(bare)
    store = tmp_path / "shared-store"
    assert main(["init", url, "--store", str(store)]) == 0
    assert url in capsys.readouterr().err
    branch = git(bare, "symbolic-ref", "--short", "HEAD")
    assert "store: " + str(store) in git(bare, "show", f"{branch}:.mcp/registry.yaml")
    assert not list(tmp_path.glob("file*"))  # nothing created at a path spelled like the URL
    client = Client(url)
    assert client.create_model_version("m").number == 1
    assert git(bare, "tag", "-l", "models/m/*") == "models/m/v1"
    with pytest.raises(AlreadyExistsError):
        Client.init(url, store=str(store))
    assert main(["-C", url, "init", "--store", str(store)]) == AlreadyExistsError.exit_code


def test_init_by_url_needs_a_shared_store_and_no_remote_name(tmp_path):
    bare = tmp_path / "srv/models.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    url = "file://" + str(bare)
    with pytest.raises(InvalidValueError, match="shared store"):
        Client.init(url)
    with pytest.raises(InvalidValueError, match="--remote"):
        Client.init(url, store=str(tmp_path / "s"), remote="origin")
    assert git(bare, "for-each-ref") == ""  # nothing pushed


def test_init_by_an_unreachable_url_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir(tmp_path))
    code = main(["init", "file://" + str(tmp_path / "nowhere.git"), "--store", str(tmp_path / "s")])
    assert code == RemoteError.exit_code
    assert "cannot reach" in capsys.readouterr().err
    assert set(os.listdir(tmp_path)) == before


def test_a_folder_inside_a_url_is_refused(tmp_path):
    from gitreg.client import init_location

    with pytest.raises(InvalidValueError, match="not a folder in it"):
        init_location("file:///srv/models.git", "sub")
    with pytest.raises(InvalidValueError, match="give one"):
        init_location("file:///a.git", "file:///b.git")
    assert init_location(None, "x") == "x" and init_location("/base", "x") == os.path.join("/base", "x")
