"""``gitreg import mlflow``: an MLflow registry built with MLflow's own client (sqlite), imported with its
history, compared back through MLflow's API; re-runs import only what is new, and a run killed midway then
run again gives what a clean run gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import git
from gitreg import Client
from gitreg.importers import gitreg_name
from gitreg.names import is_valid_name

mlflow = pytest.importorskip("mlflow")
warnings.filterwarnings("ignore", module="mlflow")  # its stages are deprecated: they are what we import


def _mlflow(tmp_path: Path) -> tuple[str, Any]:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return uri, MlflowClient(tracking_uri=uri, registry_uri=uri)


def _source(tmp_path: Path, name: str, content: bytes) -> str:
    folder = tmp_path / "artifacts" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.bin").write_bytes(content)
    return str(folder)


def _cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitreg", *args], cwd=repo, capture_output=True, text=True,
                          env={**os.environ}, timeout=600)


def _build(tmp_path: Path) -> tuple[str, Any]:
    """Two models: one whose name gitreg refuses, with a deleted version (a gap), key/value tags, two versions
    in Production at once, one in Staging and one Archived, and aliases; one plain."""
    uri, c = _mlflow(tmp_path)
    odd = "Churn model (v2)!"
    c.create_registered_model(odd, tags={"team": "growth=a", "x.y z": ""}, description="predicts churn")
    for i in range(1, 6):
        c.create_model_version(odd, _source(tmp_path, f"churn{i}", b"c%d" % i), description=f"churn {i}",
                               tags={"k": f"v{i}", "weird key: a/b.c": "a: b\nc"})
    c.delete_model_version(odd, "2")
    c.transition_model_version_stage(odd, "1", "Production")
    c.transition_model_version_stage(odd, "3", "Production")
    c.transition_model_version_stage(odd, "4", "Staging")
    c.transition_model_version_stage(odd, "5", "Archived")
    c.set_registered_model_alias(odd, "champion", "3")
    c.set_registered_model_alias(odd, "challenger", "4")
    c.create_registered_model("iris")
    c.create_model_version("iris", _source(tmp_path, "iris1", b"i1"))
    c.create_model_version("iris", "runs:/0123/model")  # nothing gitreg can read there: recorded, not linked
    c.set_registered_model_alias("iris", "production", "2")
    return uri, c


def _compare(client: Client, c: Any) -> None:
    """Every model, version, description, tag, alias and stage of the MLflow registry, through MLflow's API,
    is in gitreg."""
    for rm in c.search_registered_models():
        name = gitreg_name(rm.name)
        model = client.get_model(name)
        assert model.description == (rm.description or None)
        aliases = {a: str(v) for a, v in rm.aliases.items()}
        versions = {str(mv.version): mv for mv in c.search_model_versions(f"name='{rm.name}'")}
        assert sorted(v.number for v in client.list_model_versions(name)) == sorted(map(int, versions))
        for number, mv in versions.items():
            v = client.get_model_version(name, int(number))
            meta = v.metadata["mlflow"]
            assert v.description == (mv.description or None)
            assert meta["tags"] == mv.tags  # key/value tags, losslessly
            assert meta.get("model_tags", {}) == rm.tags
            assert sorted(meta.get("aliases", [])) == sorted(a for a, held in aliases.items() if held == number)
            assert v.metadata["imported"]["id"] == f"{rm.name}/{number}"
            assert v.created == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mv.creation_timestamp // 1000))


def test_import_keeps_everything_in_order_and_reads_back_through_mlflow(client: Client, repo: Path,
                                                                       tmp_path: Path) -> None:
    uri, c = _build(tmp_path)
    done = _cli(repo, "import", "mlflow", "--registry-uri", uri)
    assert done.returncode == 0, done.stderr
    _compare(client, c)
    odd = gitreg_name("Churn model (v2)!")
    assert f"'Churn model (v2)!' -> {odd}" in done.stdout  # the rename is in the summary
    # numbers kept, the deleted one never used; legacy stages and aliases as gitreg stages
    stages = {v.number: v.stage for v in client.list_model_versions(odd)}
    assert stages == {1: "archived", 3: "production", 4: "staging", 5: "archived"}
    assert "were all in Production" in done.stdout  # two versions in Production: reported
    assert client.get_model_version("iris", "production").number == 2  # the alias @production
    # source URIs as external links, hashed; what gitreg cannot read is named in the summary
    link = client.get_model_version(odd, 3).artifacts[0]
    assert link.external and link.uri == str(tmp_path / "artifacts" / "churn3")
    assert client.get_model_version("iris", 2).artifacts == ()
    assert "not linked: iris v2: runs:/0123/model" in done.stdout
    # original times as git's author dates, in the original order
    first = c.get_model_version("iris", "1").creation_timestamp // 1000
    log = git(repo, "log", "--reverse", "--format=%at %s").splitlines()
    assert f"{first} iris v1 registered" in log
    dates = [int(line.split()[0]) for line in log[1:]]
    registered = [d for d, line in zip(dates, log[1:]) if line.endswith("registered")]
    assert registered == sorted(registered)
    assert client.check().ok


def test_a_second_run_imports_only_what_is_new(client: Client, repo: Path, tmp_path: Path) -> None:
    uri, c = _build(tmp_path)
    assert _cli(repo, "import", "mlflow", "--registry-uri", uri).returncode == 0
    head = git(repo, "rev-parse", "HEAD")
    again = _cli(repo, "import", "mlflow", "--registry-uri", uri)
    assert again.returncode == 0, again.stderr
    assert git(repo, "rev-parse", "HEAD") == head  # nothing new: no commit
    assert "versions imported: 0 (6 imported before, skipped)" in again.stdout
    c.create_model_version("iris", _source(tmp_path, "iris3", b"i3"), description="new")
    c.set_registered_model_alias("iris", "champion", "1")  # on a version imported before
    third = _cli(repo, "import", "mlflow", "--registry-uri", uri)
    assert third.returncode == 0, third.stderr
    assert "versions imported: 1 (6 imported before, skipped)" in third.stdout
    assert git(repo, "rev-list", "--count", f"{head}..HEAD") == "2"  # the version, then its alias record
    _compare(client, c)
    assert client.check().ok


def test_a_run_killed_midway_then_run_again_equals_a_clean_run(repo: Path, tmp_path: Path) -> None:
    uri, c = _mlflow(tmp_path)
    for m in range(3):
        c.create_registered_model(f"m{m}")
        for i in range(15):
            c.create_model_version(f"m{m}", _source(tmp_path, f"m{m}-{i}", b"%d-%d" % (m, i)))
        c.transition_model_version_stage(f"m{m}", "7", "Production")
        c.set_registered_model_alias(f"m{m}", "champion", "9")
    total = 3 + 3 * 15 + 3  # models, versions, stages: each a commit (aliases come with their registration)
    start = int(git(repo, "rev-list", "--count", "HEAD"))
    proc = subprocess.Popen([sys.executable, "-m", "gitreg", "import", "mlflow", "--registry-uri", uri], cwd=repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if int(git(repo, "rev-list", "--count", "HEAD")) - start >= 10:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    made = int(git(repo, "rev-list", "--count", "HEAD")) - start
    assert 10 <= made < total, "the import should have been killed midway"
    again = _cli(repo, "import", "mlflow", "--registry-uri", uri)
    assert again.returncode == 0, again.stderr
    clean = tmp_path / "clean"
    Client.init(clean)
    assert _cli(clean, "import", "mlflow", "--registry-uri", uri).returncode == 0

    def history(where: Path) -> list[str]:
        return git(where, "log", "--reverse", "--format=%s|%an|%at", "-n", str(total)).splitlines()

    assert git(repo, "rev-parse", "HEAD:.mcp") == git(clean, "rev-parse", "HEAD:.mcp")  # the same registry
    assert int(git(repo, "rev-list", "--count", "HEAD")) - start == total  # no event twice
    assert history(repo) == history(clean)
    assert git(repo, "tag", "-l") == git(clean, "tag", "-l")
    assert _cli(repo, "check").returncode == 0


@given(st.text(min_size=1, max_size=150))
def test_every_mlflow_name_maps_to_a_valid_name_always_the_same(original: str) -> None:
    name = gitreg_name(original)
    assert is_valid_name(name)
    assert gitreg_name(original) == name
    assert (name == original) == is_valid_name(original)


@given(st.lists(st.text(min_size=1, max_size=30), min_size=2, max_size=2, unique=True))
def test_two_names_never_meet(pair: list[str]) -> None:
    a, b = pair
    assert gitreg_name(a) != gitreg_name(b)


def test_a_database_that_is_not_there_is_an_error_and_is_not_created(repo: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "mlflow.db"
    done = _cli(repo, "import", "mlflow", "--registry-uri", f"sqlite:///{missing}")
    assert done.returncode != 0 and "no such file" in done.stderr and "Traceback" not in done.stderr
    assert not missing.parent.exists()  # MLflow would have made an empty registry there


def test_import_from_a_tracking_server(client: Client, repo: Path, tmp_path: Path) -> None:
    """The same registry served by MLflow's own tracking server: imported through its REST API."""
    import urllib.request

    from conftest import _free_port

    uri, c = _build(tmp_path)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host",
                               "127.0.0.1", "--port", str(port), "--workers", "1"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.skip("MLflow's tracking server did not start here")
            time.sleep(0.5)
        done = _cli(repo, "import", "mlflow", "--registry-uri", url)
        assert done.returncode == 0, done.stderr
        assert f"imported from mlflow {url}" in done.stdout
        _compare(client, c)
        assert client.check().ok
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the workers it started, by its process group
        server.wait(timeout=60)
