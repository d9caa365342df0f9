"""Comparing many versions and finding models, as people ask for it of MLflow's tracker: 20 versions side by
side without the page overflowing, a differences-only toggle, plot axes whose labels are whole, and a
filter on the models index by name, tag and stage. In a real headless browser, with no network."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from gitreg import Client
from gitreg.site.builder import build_site, nice_ticks, tick_text
from test_site_browser import browser, css, open_page  # noqa: F401  (browser: the fixture)


def _twenty(client: Client, tmp_path: Path) -> Path:
    client.create_model("iris", tags=["tabular", "demo"])
    for i in range(20):
        client.create_model_version("iris", metadata={"accuracy": round(0.9 + i * 0.0017, 4), "team": "ml",
                                                      "params": {"depth": 3 + i % 3}})
    client.update_model_version("iris", 20, stage="production")
    client.create_model("churn", tags=["marketing"])
    client.create_model_version("churn", metadata={"auc": 0.7})
    client.update_model_version("churn", 1, stage="staging")
    out = tmp_path / "site"
    build_site(client.registry, out)
    return out


def test_twenty_versions_side_by_side(browser, client, tmp_path) -> None:  # noqa: F811
    out = _twenty(client, tmp_path)
    open_page(browser, (out / "models/iris/compare.html").as_uri())
    assert len(css(browser, "#compare thead th.vcol")) == 20
    # the page itself does not scroll sideways: the table does, inside its box
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    box = css(browser, ".table-scroll")[0]
    assert browser.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", box)
    browser.execute_script("arguments[0].scrollLeft = arguments[0].scrollWidth", box)
    # the first column stays where it was (sticky), beside the last versions
    key = css(browser, "#compare tbody tr.meta th")[0]
    assert abs(key.location["x"] - box.location["x"]) < 2
    last = css(browser, "#compare thead th.vcol")[-1]
    assert last.is_displayed() and last.location["x"] + last.size["width"] <= box.location["x"] + box.size["width"] + 1
    browser.save_screenshot(str(tmp_path / "compare20.png"))
    # differences only: the rows equal in every version go; those that differ stay
    rows = {tr.find_element("css selector", "th").text: tr for tr in css(browser, "#compare tbody tr")}
    assert rows["team"].is_displayed()
    css(browser, "#only-diff")[0].click()
    assert not rows["team"].is_displayed()
    assert rows["accuracy"].is_displayed() and rows["params.depth"].is_displayed() and rows["stage"].is_displayed()
    css(browser, "#only-diff")[0].click()
    assert rows["team"].is_displayed()
    # the metrics plotted below the table, with the compared versions marked when some are picked
    assert len(css(browser, "figure.plot")[0].find_elements("css selector", "circle.pt")) == 20
    open_page(browser, (out / "models/iris/compare.html").as_uri() + "?v=3&v=17")
    picked = [c.get_attribute("data-version") for c in css(browser, "figure.plot circle.pt.picked")]
    assert set(picked) == {"3", "17"} and len(picked) == 2 * len(css(browser, "figure.plot"))  # in every plot


def test_plot_axis_labels_are_whole(browser, client, tmp_path) -> None:  # noqa: F811
    out = _twenty(client, tmp_path)
    open_page(browser, (out / "models/iris/index.html").as_uri())
    figure = css(browser, "figure.plot")[0]
    ticks = figure.find_elements("css selector", "text.tick")
    assert len(ticks) >= 3
    for tick in ticks:
        text = tick.text
        assert text[0].isdigit() and float(text) >= 0.9, text  # "0.93", never ".93"
        # inside the drawing: its left edge is not cut off by the svg's box
        assert browser.execute_script("return arguments[0].getBBox().x", tick) >= 0
    assert len(figure.find_elements("css selector", "circle.pt")) == 20
    labels = [t.text for t in figure.find_elements("css selector", "text.lbl") if t.text.startswith("v")]
    assert "v1" in labels and "v20" in labels and len(labels) <= 17  # not one per version when crowded


def test_index_filters_by_name_tag_and_stage(browser, client, tmp_path) -> None:  # noqa: F811
    out = _twenty(client, tmp_path)
    open_page(browser, (out / "index.html").as_uri())

    def shown() -> list[str]:
        return [r.find_element("css selector", "a").text for r in css(browser, "tr.model") if r.is_displayed()]

    assert shown() == ["churn", "iris"]
    from selenium.webdriver.support.ui import Select

    Select(css(browser, "#stage-filter")[0]).select_by_value("staging")
    assert shown() == ["churn"]
    Select(css(browser, "#stage-filter")[0]).select_by_value("")
    search = css(browser, "#search")[0]
    search.send_keys("tag:demo")
    assert shown() == ["iris"]
    search.clear()
    search.send_keys("stage:production")
    assert shown() == ["iris"] and css(browser, "#count")[0].text == "1 model(s)"
    search.clear()
    search.send_keys("chu")
    assert shown() == ["churn"]


@given(st.floats(-1e5, 1e5, allow_nan=False), st.floats(1e-3, 1e5, allow_nan=False))
def test_ticks_cover_the_data_and_their_labels_read_back(lo: float, span: float) -> None:
    hi = lo + span
    ticks = nice_ticks(lo, hi)
    assert 2 <= len(ticks) <= 12
    step = ticks[1] - ticks[0]
    slack = step * 1e-6
    assert lo - step - slack < ticks[0] <= lo + slack and hi - slack <= ticks[-1] < hi + step + slack
    texts = [tick_text(t, ticks) for t in ticks]
    assert len(set(texts)) == len(texts)  # distinct: enough decimals for the step
    for value, text in zip(ticks, texts):
        assert not text.startswith(".") and abs(float(text) - value) <= step / 2
