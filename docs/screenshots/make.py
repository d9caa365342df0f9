"""Screenshots of the dashboard for docs/screenshots: `PYTHONPATH=$PWD python docs/screenshots/make.py docs/screenshots`
(from the repository top; a demo registry in a temporary folder, headless chromium + chromedriver)."""
import subprocess, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, "tests")
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from test_site_browser import CHROMIUM_FLAGS
from gitreg import Client, Model, pipeline, step
from gitreg.site.server import SiteServer

out = Path(sys.argv[1]).absolute()
work = Path(tempfile.mkdtemp()) / "reg"
work.mkdir(parents=True)
subprocess.run(["git", "init", "-q", str(work)], check=True)
client = Client.init(work)
client.create_model("iris", description="Classifies iris flowers from four measurements.", license="Apache-2.0",
                    tags=["demo", "tabular"])
rng = np.random.default_rng(0)
for i in range(20):
    rows, c = 100 + 5 * i, round(0.2 + 0.1 * i, 2)

    @step
    def load() -> pd.DataFrame:
        cols = {"sepal_length": rng.random(rows), "sepal_width": rng.random(rows), "petal_length": rng.random(rows),
                "species": ["setosa"] * rows}
        if i >= 10:
            cols["petal_width"] = rng.random(rows)
        return pd.DataFrame(cols)

    @step
    def features(frame: pd.DataFrame) -> np.ndarray:
        return frame.select_dtypes("number").to_numpy()

    @step
    def train(x: np.ndarray, frame: pd.DataFrame) -> LogisticRegression:
        from gitreg import log_model_metadata
        log_model_metadata({"accuracy": round(0.88 + 0.003 * i + 0.004 * (i % 3), 4), "f1": round(0.85 + 0.004 * i, 4),
                            "params": {"C": c}, "dataset": "iris-2026-11"})
        return LogisticRegression(C=c, max_iter=200)

    @pipeline(repo=work, model=Model("iris"))
    def training() -> None:
        frame = load()
        train(features(frame), frame)

    training()
client.update_model_version("iris", 12, stage="production", reason="best f1 on the holdout")
client.update_model_version("iris", 20, stage="staging", reason="candidate")
client.create_model("churn", tags=["marketing"]); client.create_model_version("churn", metadata={"auc": 0.71})

server = SiteServer(client.registry, work.parent / "ui", port=0, interval=60, actions=True)
server.start()
o = webdriver.ChromeOptions(); o.binary_location = "/usr/bin/chromium"
for f in CHROMIUM_FLAGS:
    o.add_argument(f.replace("--window-size=1280,1300", "--window-size=1280,1000"))
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
base = f"http://127.0.0.1:{server.port}/"
def shot(rel, name, height=None, script=None):
    d.get(base + rel)
    time.sleep(0.3)
    if script:
        d.execute_script(script)
    h = height or d.execute_script("return document.documentElement.scrollHeight")
    d.set_window_size(1280, h + 140)
    time.sleep(0.3)
    d.save_screenshot(str(out / name))
shot("models/iris/v20.html", "version-actions.png", 1250)
run = client.list_runs()[-1]
shot(f"runs/{run.id}.html", "run-lineage.png", 620)
shot("models/iris/artifacts.html", "artifacts.png", 1250, "document.getElementById('a-load_output').scrollIntoView()")
shot("models/iris/compare.html", "compare-20-versions.png", None,
     "document.getElementById('only-diff').click()")
shot("models/iris/index.html", "model-plots.png", 1300, "document.querySelector('figure.plot').scrollIntoView()")
shot("index.html", "models-index.png", 400, "var s=document.getElementById('search'); s.value='tag:demo'; s.dispatchEvent(new Event('input'))")
server.stop()

# a registry whose writes push to a remote (a bare repository standing in for a git host): a promotion is proposed
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from gitreg.remote import Remote
hub = work.parent / "hub.git"
subprocess.run(["git", "init", "-q", "--bare", str(hub)], check=True)
shared = work.parent / "shared"
subprocess.run(["git", "init", "-q", "-b", "main", str(shared)], check=True)
subprocess.run(["git", "-C", str(shared), "remote", "add", "origin", str(hub)], check=True)
team = Client.init(shared, remote="origin", store=str(work.parent / "store"))
for acc in (0.9, 0.93):
    team.create_model_version("iris", metadata={"accuracy": acc})
team.update_model_version("iris", 1, stage="production")
# the demo's remote is a folder: shown as a GitHub address, so that the answer has its pull-request link
Remote.url = property(lambda self: "git@github.com:acme/models.git")
server = SiteServer(team.registry, work.parent / "ui2", port=0, interval=60, actions=True)
server.start()
base = f"http://127.0.0.1:{server.port}/"
d.set_window_size(1280, 700)
d.get(base + "models/iris/v2.html")
Select(d.find_element(By.ID, "stage-select")).select_by_value("production")
d.find_element(By.ID, "stage-force").click()
d.find_element(By.ID, "stage-reason").send_keys("better accuracy on the holdout")
d.find_element(By.ID, "stage-submit").click()
time.sleep(0.5)
d.save_screenshot(str(out / "proposal.png"))
d.quit(); server.stop()
