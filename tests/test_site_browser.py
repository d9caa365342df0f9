"""The site in a real headless browser (Debian's chromium + chromedriver, driven by selenium).

Without a browser these tests skip locally, with the reason; under CI (CI=true) they fail:
a test that needs the browser never passes without one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from gitreg import Client
from gitreg.site.builder import build_site
from gitreg.site.server import SiteServer

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,1300")


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (name if os.path.isfile(name) else None)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    reason = None
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
        reason = "selenium is not installed (pip install -e '.[test]')"
    chrome = _find("chromium", "chromium-browser", "/usr/bin/chromium")
    driver_path = _find("chromedriver", "/usr/bin/chromedriver")
    if reason is None and (chrome is None or driver_path is None):
        reason = "no chromium/chromedriver (apt-get install chromium chromium-driver)"
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the browser tests need a browser under CI: {reason}")
        pytest.skip(reason)
    profile = tempfile.mkdtemp(prefix="gitreg-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver, url: str, shot: Path | None = None) -> None:
    driver.get_log("browser")  # forget what earlier pages logged
    driver.get(url)
    driver.execute_script("return document.readyState")
    if shot is not None:
        driver.save_screenshot(str(shot))
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, f"console errors on {url}: {errors}"


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


@pytest.fixture
def site(client: Client, tmp_path: Path) -> tuple[Client, Path]:
    (tmp_path / "d.csv").write_text("a\n1\n")
    client.create_model("iris", description="Classifies iris flowers from four measurements.",
                        license="Apache-2.0", audience="Botanists", limitations="Three species only.",
                        tags=["demo", "tabular"])
    for i, (acc, f1) in enumerate([(0.81, 0.8), (0.9, 0.88), (0.86, 0.85), (0.93, 0.91)], start=1):
        client.create_model_version("iris", metadata={"accuracy": acc, "f1": f1, "params": {"depth": i + 2}})
        client.add_artifact("iris", i, str(tmp_path / "d.csv"), "data")
        (tmp_path / f"m{i}.bin").write_bytes(b"w%d" % (i // 2))
        client.add_artifact("iris", i, str(tmp_path / f"m{i}.bin"), "model", type="model")
    client.update_model_version("iris", 2, stage="production", reason="first good one")
    client.update_model_version("iris", 4, stage="staging", reason="looks better")
    client.create_model_version("churn", metadata={"auc": 0.7})
    out = tmp_path / "site"
    build_site(client.registry, out)
    return client, out


def test_pages_render_link_and_plot(browser, site, tmp_path: Path) -> None:
    client, out = site
    open_page(browser, (out / "index.html").as_uri(), tmp_path / "index.png")
    rows = css(browser, "tr.model")
    assert [r.find_element("css selector", "a").text for r in rows] == ["churn", "iris"]
    search = css(browser, "#search")[0]
    search.send_keys("tabular")
    assert [r.is_displayed() for r in css(browser, "tr.model")] == [False, True]
    css(browser, 'a[href="models/iris/index.html"]')[0].click()
    assert browser.current_url.endswith("/models/iris/index.html")
    open_page(browser, browser.current_url, tmp_path / "model.png")
    assert "Classifies iris flowers" in css(browser, ".card")[0].text
    figure = css(browser, "figure.plot")[0]
    assert figure.is_displayed() and figure.text.endswith("accuracy")
    assert len(figure.find_elements("css selector", "circle.pt")) == 4  # one point per version
    timeline = css(browser, "ol.timeline")[0].text
    assert "first good one" in timeline and "looks better" in timeline and "Test User" in timeline
    # the reader picks another metadata column, and sorts by it
    header = css(browser, '#versions th.mcol[data-col="2"]')[0]
    assert header.text == "params.depth"
    # sorting by accuracy, descending, puts v4 first
    acc = css(browser, '#versions th.mcol[data-col="0"]')[0]
    acc.click()
    acc.click()
    assert css(browser, "#versions tbody tr")[0].get_attribute("data-version") == "4"
    # links to a version page work
    css(browser, 'a[href="v2.html"]')[0].click()
    open_page(browser, browser.current_url, tmp_path / "version.png")
    assert "production" in css(browser, "h1")[0].text
    assert len(css(browser, "table.artifacts tbody tr")) == 2
    download = css(browser, 'table.artifacts a[download]')[0].get_attribute("href")
    assert download.startswith("file://") and Path(download[len("file://"):]).is_file()


def test_compare_page_shows_the_right_deltas(browser, site, tmp_path: Path) -> None:
    client, out = site
    model = (out / "models" / "iris" / "index.html").as_uri()
    open_page(browser, model)
    for number in ("2", "4"):
        css(browser, f'input.pick[value="{number}"]')[0].click()
    css(browser, "#compare-picked")[0].click()
    assert browser.current_url.endswith("compare.html?v=2&v=4")
    open_page(browser, browser.current_url, tmp_path / "compare.png")
    shown = [th.text for th in css(browser, "#compare thead th.vcol") if th.is_displayed()]
    assert shown == ["v2", "v4"]
    expected = client.compare_model_versions("iris", 2, 4)
    from gitreg.compare import delta_text

    for row in expected.metadata:
        cells = [td for td in css(browser, "#compare tr.meta") if row.key in td.text][0] \
            .find_elements("css selector", "td.vcol")
        visible = [td.text for td in cells if td.is_displayed()]
        assert visible[1].endswith(f"({delta_text(row.deltas[1])})"), (row.key, visible)
    art = [tr for tr in css(browser, "#compare tr.art") if "model" in tr.text][0]
    statuses = [td.text for td in art.find_elements("css selector", "td.vcol") if td.is_displayed()]
    assert statuses[1].endswith("changed")  # v2 and v4 hold different bytes
    assert not statuses[0].endswith(("changed", "same bytes"))  # the reference column has no status
    data = [tr for tr in css(browser, "#compare tr.art") if "data" in tr.text][0]
    assert [td.text for td in data.find_elements("css selector", "td.vcol") if td.is_displayed()][1] \
        .endswith("same bytes")
    # picking v1 and v3 recomputes everything against v1
    open_page(browser, (out / "models" / "iris" / "compare.html").as_uri() + "?v=1&v=3")
    acc = [tr for tr in css(browser, "#compare tr.meta") if "accuracy" in tr.text][0]
    assert [td.text for td in acc.find_elements("css selector", "td.vcol") if td.is_displayed()] == [
        "0.81", "0.86 (+0.05)"]


def test_ui_server_in_the_browser_follows_writes(browser, site, tmp_path: Path) -> None:
    client, _ = site
    server = SiteServer(client.registry, tmp_path / "ui", port=0, interval=0.1)
    server.start()
    try:
        open_page(browser, server.url, tmp_path / "ui.png")
        assert len(css(browser, "tr.model")) == 2
        built = server.first.commit
        client.create_model_version("fresh", metadata={"x": 1})
        import time

        deadline = time.monotonic() + 10
        while server._state[0] == built and time.monotonic() < deadline:  # wait for the watcher
            time.sleep(0.05)
        time.sleep(0.3)
        open_page(browser, server.url)
        assert [r.find_element("css selector", "a").text for r in css(browser, "tr.model")] == [
            "churn", "fresh", "iris"]
        css(browser, 'a[href="models/fresh/index.html"]')[0].click()
        open_page(browser, browser.current_url)
        assert css(browser, "h1")[0].text == "fresh"
    finally:
        server.stop()
