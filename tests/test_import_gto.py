"""``gitreg import gto``: a GTO repository built with GTO's own API, imported with its history, compared back
through GTO's API; re-runs import only what is new."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git
from gitreg import Client
from gitreg.importers import gitreg_name

gto = pytest.importorskip("gto.api")


def _cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitreg", *args], cwd=repo, capture_output=True, text=True,
                          env={**os.environ}, timeout=600)


def _commit(src: Path, message: str) -> None:
    git(src, "add", "-A")
    git(src, "commit", "-qm", message)


def _build(tmp_path: Path) -> Path:
    src = tmp_path / "gto-repo"
    src.mkdir()
    git(src, "init", "-q")
    (src / "models").mkdir()
    (src / "sub").mkdir()
    (src / "models" / "churn.bin").write_text("one")
    (src / "artifacts.yaml").write_text("churn:\n  type: model\n  path: models/churn.bin\n"
                                        "  description: churn model\n  labels: [tabular, 'not a name']\n")
    (src / "sub" / "artifacts.yaml").write_text("scorer:\n  type: model\n  path: s.bin\n  virtual: false\n")
    (src / "sub" / "s.bin").write_text("s1")
    _commit(src, "first")
    gto.register(src, "churn", "HEAD", version="v1.0.0", author="Bob B", author_email="bob@example.com")
    gto.register(src, "sub:scorer", "HEAD", version="v0.1.0")
    gto.assign(src, "churn", "prod", version="v1.0.0")
    (src / "models" / "churn.bin").write_text("two")
    _commit(src, "second")
    gto.register(src, "churn", "HEAD", version="v1.1.0")
    gto.assign(src, "churn", "dev", version="v1.1.0")
    gto.assign(src, "churn", "staging", version="v1.1.0")
    gto.assign(src, "churn", "prod", version="v1.1.0")
    gto.unassign(src, "churn", version="v1.1.0", stage="prod")  # prod goes back to v1.0.0, as GTO reads it
    gto.assign(src, "sub:scorer", "prod", version="v0.1.0")
    git(src, "tag", "churn@v9.9.9")  # lightweight: not GTO's
    return src


def _compare(client: Client, src: Path) -> None:
    """Every artifact, version, registration author and stage GTO's API shows is in gitreg."""
    for artifact, state in gto.show(src).items():
        name = gitreg_name(artifact)
        versions = {v["version"]: v for v in gto.show(src, artifact)}
        ours = {v.name: v for v in client.list_model_versions(name)}
        assert set(ours) == set(versions)
        for number, label in enumerate(sorted(versions, key=lambda x: tuple(map(int, x[1:].split(".")))), 1):
            assert ours[label].number == number  # numbered in registration order
            assert ours[label].metadata["gto"]["commit"] == versions[label]["commit_hexsha"]
            registered = versions[label]["registrations"][0]
            reg_tag = f"{client.registry.snapshot().config.tag_prefix}/{name}/v{number}"
            assert git(Path(client.root), "log", "-1", "--format=%an <%ae>", reg_tag) == \
                f"{registered['author']} <{registered['author_email']}>"
        for stage, label in state["stage"].items():
            if label is None:  # GTO lists every stage of the repository, held or not
                continue
            held = "production" if stage == "prod" else "staging" if stage == "staging" else None
            if held is not None:
                assert client.get_model_version(name, held).name == label
            else:
                assert stage in ours[label].metadata["gto"]["aliases"]


def test_import_keeps_versions_authors_and_stages_as_gto_reads_them(client: Client, repo: Path,
                                                                   tmp_path: Path) -> None:
    src = _build(tmp_path)
    done = _cli(repo, "import", "gto", str(src))
    assert done.returncode == 0, done.stderr
    _compare(client, src)
    assert client.get_model_version("churn", "production").name == "v1.0.0"
    assert client.get_model("churn").tags == ("tabular",)
    assert client.get_model_version("churn", 1).metadata["gto"]["labels"] == ["tabular", "not a name"]
    scorer = gitreg_name("sub:scorer")
    assert f"'sub:scorer' -> {scorer}" in done.stdout
    assert client.get_model_version(scorer, 1).metadata["gto"]["path"] == "sub/s.bin"
    # the work tree holds v1.1.0's bytes: linked in place; v1.0.0's are only in git history, and the summary says so
    assert client.get_model_version("churn", 2).artifacts[0].uri == (src / "models" / "churn.bin").as_uri()
    assert client.get_model_version("churn", 1).artifacts == ()
    assert "not linked: churn v1: models/churn.bin" in done.stdout
    assert "churn@v9.9.9: a lightweight tag" in done.stdout
    assert client.check().ok


def test_a_second_run_imports_only_what_is_new(client: Client, repo: Path, tmp_path: Path) -> None:
    src = _build(tmp_path)
    assert _cli(repo, "import", "gto", str(src)).returncode == 0
    head = git(repo, "rev-parse", "HEAD")
    bar = _cli(repo, "import", "gto", str(src), "--progress")  # a bar drawn even on a pipe, when asked
    assert bar.returncode == 0, bar.stderr
    assert git(repo, "rev-parse", "HEAD") == head
    (src / "models" / "churn.bin").write_text("three")
    _commit(src, "third")
    gto.register(src, "churn", "HEAD", version="v2.0.0")
    gto.assign(src, "churn", "prod", version="v2.0.0")
    again = _cli(repo, "import", "gto", str(src))
    assert again.returncode == 0, again.stderr
    assert "versions imported: 1 (3 imported before, skipped)" in again.stdout
    assert git(repo, "rev-list", "--count", f"{head}..HEAD") == "2"  # the version, then its promotion
    _compare(client, src)
    assert client.check().ok


def test_not_a_repository_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    done = _cli(repo, "import", "gto", str(tmp_path / "nowhere"))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "not a git repository" in done.stderr


def test_registrations_in_one_second_are_numbered_in_version_order(client: Client, repo: Path,
                                                                    tmp_path: Path) -> None:
    src = tmp_path / "gto-repo"
    src.mkdir()
    git(src, "init", "-q")
    (src / "artifacts.yaml").write_text("m:\n  type: model\n")
    _commit(src, "first")
    env = {**os.environ, "GIT_COMMITTER_DATE": "2024-01-02T03:04:05Z"}  # every tag in the same second
    for version in ("v1.2.0", "v1.9.1", "v1.10.0"):  # tag names sort otherwise than versions
        (src / "m.txt").write_text(version)
        _commit(src, version)  # GTO allows one version per commit
        subprocess.run(["git", "tag", "-a", f"m@{version}", "-m", f"Registering artifact m version {version}"],
                       cwd=src, env=env, check=True)
    assert _cli(repo, "import", "gto", str(src)).returncode == 0
    assert [v.name for v in client.list_model_versions("m")] == ["v1.2.0", "v1.9.1", "v1.10.0"]
    assert {v["version"] for v in gto.show(src, "m")} == {"v1.2.0", "v1.9.1", "v1.10.0"}  # GTO reads them too
