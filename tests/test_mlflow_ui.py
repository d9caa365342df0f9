"""MLflow's own UI over a gitreg registry: ``mlflow server --registry-store-uri gitreg:///PATH`` on 127.0.0.1,
driven in headless Chromium through the models list and one model's page.

The screenshot of the model page is saved in the test's folder; with GITREG_UPDATE_SCREENSHOTS=1 it also
replaces docs/mlflow-ui.png (the picture docs/how-to/mlflow.md shows).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from mlflow import MlflowClient

from conftest import _free_port
from gitreg import Client
from mlflow_support import entry_point_path, entry_points  # noqa: F401  (the fixture)
from test_site_browser import browser  # noqa: F401  (the project's headless Chromium fixture)

ROOT = Path(__file__).resolve().parent.parent


def _wait_for_text(driver, texts: list[str], timeout: float = 60.0) -> str:
    """The page's text once every one of ``texts`` is in it (MLflow's UI renders after its API calls)."""
    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        body = driver.execute_script("return document.body ? document.body.innerText : ''") or ""
        if all(t in body for t in texts):
            return str(body)
        time.sleep(0.5)
    raise AssertionError(f"the page never showed {[t for t in texts if t not in body]}; it shows:\n{body[:2000]}")


@pytest.fixture
def registry(repo: Path, tmp_path: Path) -> Path:
    """Two models: one written by gitreg's API, one by MLflow's client (through the plugin)."""
    gitreg = Client(repo)
    gitreg.create_model("iris", description="Classifies iris flowers from four measurements.", tags=["tabular"],
                        tag_values={"owner": "ana", "dataset": "uci-iris"})
    for accuracy in (0.91, 0.95, 0.97):
        gitreg.create_model_version("iris", metadata={"accuracy": accuracy}, tag_values={"accuracy": str(accuracy)})
    gitreg.update_model_version("iris", 2, stage="production")
    gitreg.update_model_version("iris", 3, stage="staging")
    gitreg.set_alias("iris", "champion", 2)
    gitreg.set_alias("iris", "challenger", 3)
    return repo


@pytest.fixture
def server(registry: Path, tmp_path: Path):
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(entry_point_path(tmp_path / "ep"))]))
    log = (tmp_path / "server.log").open("w")
    command = [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
               "--default-artifact-root", (tmp_path / "artifacts").as_uri(),
               "--registry-store-uri", "gitreg://" + quote(str(registry))]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("mlflow server did not start:\n" + (tmp_path / "server.log").read_text())
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    served = (tmp_path / "server.log").read_text()
    # the store's endpoints never fail (a version's artifacts are served apart, and gitreg's own versions have none)
    failed = [line for line in served.splitlines() if "api/2.0/mlflow/registered-models" in line
              or "api/2.0/mlflow/model-versions" in line if '" 5' in line or '" 4' in line]
    assert not failed, "the registry endpoints failed:\n" + "\n".join(failed)


def test_mlflows_ui_shows_the_registry(browser, server: str, registry: Path, tmp_path: Path,  # noqa: F811
                                       entry_points: Path) -> None:  # noqa: F811
    ml = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'client.db'}",
                      registry_uri="gitreg://" + quote(str(registry)))
    ml.create_registered_model("Fraud Detector", tags={"team": "risk"}, description="Scores card payments.")
    ml.create_model_version("Fraud Detector", "s3://models/fraud/1")
    # the list of models: both, whoever wrote them
    browser.get(f"{server}/#/models")
    text = _wait_for_text(browser, ["iris", "Fraud Detector"])
    assert "champion" in text or "Version 2" in text or "@" in text or "production" in text.lower()
    browser.save_screenshot(str(tmp_path / "models.png"))
    # one model's page: its description, versions, stages and aliases, tags
    browser.set_window_size(1500, 1000)
    browser.get(f"{server}/#/models/iris")
    text = _wait_for_text(browser, ["Classifies iris flowers", "champion", "challenger", "Version 3", "owner",
                                    "uci-iris"])
    # MLflow's assistant panel covers a third of the page: closed for the picture
    browser.execute_script("const b = [...document.querySelectorAll('button[aria-label]')].find(b =>"
                           " /close/i.test(b.getAttribute('aria-label')) && b.offsetParent); if (b) b.click();")
    time.sleep(1)
    shot = tmp_path / "mlflow-ui.png"
    browser.save_screenshot(str(shot))
    # MLflow 3's model page shows stages as aliases: gitreg's production and staging holders among them
    assert re.search(r"@\s*production", text) and re.search(r"@\s*staging", text), text[:2000]
    assert shot.stat().st_size > 10_000
    if os.environ.get("GITREG_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "mlflow-ui.png")
    # a version's page: its tags and the stage it holds
    browser.get(f"{server}/#/models/iris/versions/2")
    _wait_for_text(browser, ["Version 2", "accuracy", "0.95"])
    # the page of the model MLflow's client wrote, by its MLflow name
    browser.get(f"{server}/#/models/{quote('Fraud Detector')}")
    _wait_for_text(browser, ["Scores card payments.", "team", "risk", "Version 1"])
