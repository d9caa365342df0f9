"""A shared store from the start: init says where the bytes go and how to share them, and a clone that lacks
the bytes of a local store says they are on the machine that saved them (and how to copy or share them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import git
from gitreg.cli.app import main
from gitreg.errors import ArtifactStoreError


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    return bare


def clone(origin: Path, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(origin), str(where)], check=True, capture_output=True)
    return where


def test_init_without_store_says_where_bytes_go_and_how_to_share(hermetic, capsys):
    code, _, err = run(capsys, "init")
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Initialised a gitreg registry")
    assert lines[1].startswith("note: artifacts are stored in .gitreg/store, a folder on this machine that git ignores")
    assert "`store:` in .mcp/registry.yaml" in lines[1] and "`gitreg init --store URI`" in lines[1]


def test_init_on_a_repository_with_a_remote_says_it_too(origin, tmp_path, capsys):
    work = clone(origin, tmp_path / "a")
    code, _, err = run(capsys, "-C", str(work), "init", "--remote", "origin")
    assert code == 0 and "pushed to origin" in err and "note: artifacts are stored in .gitreg/store" in err


def test_init_with_a_store_says_nothing_more(hermetic, tmp_path, capsys):
    code, _, err = run(capsys, "init", "--store", str(tmp_path / "shared"))
    assert code == 0 and len(err.splitlines()) == 1 and "note:" not in err


def test_following_the_init_note_shares_the_bytes_between_clones(origin, tmp_path, capsys):
    a = clone(origin, tmp_path / "a")
    assert run(capsys, "-C", str(a), "init", "--remote", "origin")[0] == 0
    shared = tmp_path / "team-store"  # a network folder every machine mounts
    config = a / ".mcp" / "registry.yaml"
    config.write_text(config.read_text().replace("store: .gitreg/store", f"store: {shared}"))
    git(a, "commit", "-qam", "registry: a shared store")
    git(a, "push", "-q", "origin", "HEAD")
    weights = tmp_path / "w.npy"
    weights.write_bytes(b"ranker weights")
    assert run(capsys, "-C", str(a), "model", "version", "create", "ranker")[0] == 0
    assert run(capsys, "-C", str(a), "artifact", "add", "ranker", "1", str(weights), "--name", "weights")[0] == 0
    b = clone(origin, tmp_path / "b")
    code, _, err = run(capsys, "-C", str(b), "artifact", "get", "ranker", "1", "weights", "--to", str(b / "w.npy"))
    assert code == 0 and (b / "w.npy").read_bytes() == b"ranker weights", err


def test_a_teammates_clone_is_told_where_the_bytes_are(origin, tmp_path, capsys):
    a = clone(origin, tmp_path / "a")
    assert run(capsys, "-C", str(a), "init", "--remote", "origin")[0] == 0
    weights = tmp_path / "w.npy"
    weights.write_bytes(b"ranker weights")
    assert run(capsys, "-C", str(a), "model", "version", "create", "ranker")[0] == 0
    assert run(capsys, "-C", str(a), "artifact", "add", "ranker", "1", str(weights), "--name", "weights")[0] == 0
    assert run(capsys, "-C", str(a), "model", "version", "update", "ranker", "1", "-s", "production")[0] == 0
    b = clone(origin, tmp_path / "b")
    dest = b / "w.npy"
    code, out, err = run(capsys, "-C", str(b), "artifact", "get", "ranker", "production", "weights", "--to", str(dest))
    assert code == ArtifactStoreError.exit_code and out == "" and not dest.exists()
    (line,) = err.splitlines()
    assert "Traceback" not in line and "the bytes live on the machine that saved them" in line
    assert "rsync -a HOST:REPO/.gitreg/store/ .gitreg/store/" in line and "gitreg init --store" in line
    # and what it says works: the folder copied from the machine that saved them
    shutil.copytree(a / ".gitreg" / "store", b / ".gitreg" / "store", dirs_exist_ok=True)
    code, _, err = run(capsys, "-C", str(b), "artifact", "get", "ranker", "production", "weights", "--to", str(dest))
    assert code == 0 and dest.read_bytes() == b"ranker weights", err


def test_a_deleted_object_of_a_shared_store_keeps_its_message(hermetic, tmp_path, capsys):
    shared = tmp_path / "shared"
    assert run(capsys, "init", "--store", str(shared))[0] == 0
    weights = tmp_path / "w.npy"
    weights.write_bytes(b"bytes")
    run(capsys, "model", "version", "create", "m")
    run(capsys, "artifact", "add", "m", "1", str(weights), "--name", "weights")
    for obj in (shared / "objects").rglob("*"):
        if obj.is_file():
            obj.unlink()
    code, _, err = run(capsys, "artifact", "get", "m", "1", "weights", "--to", str(tmp_path / "back"))
    assert code == ArtifactStoreError.exit_code and "is missing from the artifact store" in err
    assert "machine that saved them" not in err


def test_init_with_a_store_inside_the_repository_says_it_too(hermetic, capsys):
    code, _, err = run(capsys, "init", "--store", "artifacts")
    assert code == 0 and "note: artifacts are stored in artifacts, a folder on this machine that git ignores" in err
