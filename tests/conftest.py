"""Hermetic test setup: every test gets its own HOME, git config and repositories."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fastpath_only(*names): the test pins a detail of these fast paths themselves (see"
                   " gitreg.fastpaths: that no git process ran, what a cache holds); skipped when GITREG_REFERENCE"
                   " selects the reference of any of them (of any fast path, when no name is given)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a ``fastpath_only`` test when the reference of a fast path it pins is selected."""
    marker = item.get_closest_marker("fastpath_only")
    if marker is None:
        return
    from gitreg.fastpaths import FAST_PATHS, reference_selected

    unknown = [name for name in marker.args if name not in FAST_PATHS]
    if unknown:
        raise pytest.UsageError(f"{item.nodeid}: fastpath_only names no fast path {unknown}")
    switched = reference_selected() & set(marker.args or FAST_PATHS)
    if switched:
        pytest.skip(f"pins the fast path(s) {', '.join(sorted(switched))}, whose reference GITREG_REFERENCE selects")


@pytest.fixture(autouse=True)
def hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n"
        # the remotes the tests serve allow blob-less clones, as the big git hosts do
        "[uploadpack]\n\tallowFilter = true\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for var in ("GITREG_REPO", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_AUTHOR_NAME",
                "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(hermetic: Path) -> Path:
    """An initialised registry in a fresh git repository (the current directory)."""
    from gitreg import Client

    Client.init(hermetic)
    return hermetic


@pytest.fixture
def client(repo: Path):
    from gitreg import Client

    return Client(repo)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3-compatible server (moto in server mode) on 127.0.0.1."""
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = _free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="models")
    yield endpoint
    server.stop()
