"""Lineage and artifacts on the site: a run page draws its steps, the artifacts they read and wrote and the
model versions those are linked to; materializers record what each saved object holds, and the model's
artifacts view and comparisons show it, and where versions differ."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitreg import Client
from gitreg.materializers import SUMMARY_ITEMS, describe
from gitreg.site.artifact_view import summary_view
from gitreg.site.builder import build_site
from gitreg.site.lineage import run_graph
from test_site_browser import browser, css, open_page  # noqa: F401  (browser: the fixture)

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")
linear = pytest.importorskip("sklearn.linear_model")


def _train(client: Client, rows: int, c: float) -> None:
    from gitreg import Model, pipeline, step

    @step
    def load() -> pd.DataFrame:
        return pd.DataFrame({"sepal": np.arange(rows, dtype="float64"), "species": ["a"] * rows})

    @step
    def features(frame: pd.DataFrame) -> np.ndarray:
        return frame[["sepal"]].to_numpy()

    @step
    def train(x: np.ndarray, frame: pd.DataFrame) -> linear.LogisticRegression:
        return linear.LogisticRegression(C=c)

    @pipeline(repo=client.root, model=Model("iris"))
    def training() -> None:
        frame = load()
        train(features(frame), frame)

    training()


@pytest.fixture
def trained(client: Client, tmp_path: Path) -> tuple[Client, Path]:
    _train(client, 120, 2.0)
    _train(client, 150, 0.5)
    out = tmp_path / "site"
    build_site(client.registry, out)
    return client, out


def test_materializers_record_what_an_object_holds() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.0, 2.0], "c": ["x", "y", "z"]})
    assert describe(frame) == {"class": "pandas.DataFrame", "rows": 3, "columns": 3,
                               "dtypes": {"a": "int64", "b": "float64", "c": str(frame["c"].dtype)}}
    assert describe(np.zeros((3, 4), dtype="float32")) == {"class": "numpy.ndarray", "shape": [3, 4],
                                                           "dtype": "float32"}
    model = describe(linear.LogisticRegression(C=0.25))
    assert model is not None and model["class"] == "sklearn.linear_model.LogisticRegression"
    assert model["params"] == {"C": 0.25}  # what was chosen: the parameters that are not their defaults
    assert describe([1, 2]) == {"class": "list", "length": 2}
    assert describe(object()) is None
    wide = pd.DataFrame({f"c{i}": [i] for i in range(SUMMARY_ITEMS + 10)})
    summary = describe(wide)
    assert summary is not None and summary["columns"] == SUMMARY_ITEMS + 10
    assert len(summary["dtypes"]) == SUMMARY_ITEMS  # bounded, whatever the object


def test_the_summary_is_recorded_with_the_link_and_passes_check(trained) -> None:
    from gitreg.cli.app import main

    client, _ = trained
    links = {a.name: a for a in client.get_model_version("iris", 2).artifacts}
    model = [a for a in links.values() if a.type == "model"][0]
    assert model.summary is not None and model.summary["params"]["C"] == 0.5
    assert main(["check"]) == 0


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                 max_size=3), max_leaves=12))
def test_any_json_summary_from_a_manifest_is_shown_without_error(summary) -> None:
    """A summary comes from a manifest anyone may edit: whatever JSON it holds, the view is text, never a crash."""
    view = summary_view(summary if isinstance(summary, dict) else {"class": "pandas.DataFrame", "dtypes": summary,
                                                                    "rows": summary, "shape": summary})
    assert view is None or isinstance(view.text, str)


def test_run_graph_links_steps_artifacts_and_versions(trained) -> None:
    client, out = trained
    run = client.list_runs()[-1]
    from gitreg.pipelines.runs import read_run

    record = read_run(client.registry.repo, client.registry.snapshot().commit, run.id)
    graph = run_graph(record.steps, record.models, {"iris"}, "../")
    steps = [n for n in graph.nodes if n.kind == "step"]
    assert [n.label for n in steps] == ["load", "features", "train"]
    # columns follow the data: load, its frame, features, its array, train, its model, the version
    x = {n.label: n.x for n in steps}
    assert x["load"] < x["features"] < x["train"]
    edges = {(graph.node(e.source).label, graph.node(e.target).label, e.kind) for e in graph.edges}
    frame = [n for n in graph.nodes if n.kind == "artifact" and n.key.startswith("artifact:0:")][0]
    assert ("load", frame.label, "writes") in edges
    assert (frame.label, "features", "reads") in edges and (frame.label, "train", "reads") in edges
    version = [n for n in graph.nodes if n.kind == "version"]
    assert [n.label for n in version] == ["iris v2"] and version[0].href == "../models/iris/v2.html"
    assert any(e.kind == "links" and graph.node(e.target).kind == "version" for e in graph.edges)
    assert max(n.x for n in graph.nodes) == version[0].x  # the versions are the last column
    # nothing drawn outside the picture
    assert all(n.x >= 0 and n.x + n.width <= graph.width and n.y + n.height <= graph.height for n in graph.nodes)


def test_run_page_draws_the_graph_and_links_the_version(browser, trained, tmp_path) -> None:  # noqa: F811
    client, out = trained
    run = client.list_runs()[-1]
    open_page(browser, (out / "runs" / f"{run.id}.html").as_uri(), tmp_path / "run.png")
    svg = css(browser, "svg#lineage")[0]
    assert svg.is_displayed()
    labels = [t.text for t in svg.find_elements("css selector", "g.step text.label")]
    assert labels == ["load", "features", "train"]
    assert len(svg.find_elements("css selector", "path.edge")) >= 5
    svg.find_element("css selector", "g.version").click()
    assert browser.current_url.endswith("/models/iris/v2.html")


def test_artifacts_view_and_compare_show_contents_and_differences(browser, trained, tmp_path) -> None:  # noqa: F811
    client, out = trained
    open_page(browser, (out / "models/iris/index.html").as_uri())
    css(browser, "#artifacts-link")[0].click()
    open_page(browser, browser.current_url, tmp_path / "artifacts.png")
    groups = {g.get_attribute("id"): g for g in css(browser, "section.artifact-group")}
    assert set(groups) == {"a-load_output", "a-features_output", "a-train_output"}
    text = css(browser, "main")[0].text
    assert "120 rows × 2 columns" in text and "150 rows × 2 columns" in text
    assert "sklearn.linear_model.LogisticRegression" in text
    changed = css(browser, "tr.change-changed")
    assert changed, "v2's artifacts hold other bytes than v1's"
    diffs = " ".join(tr.text for tr in changed)
    assert "120 rows × 2 columns → 150 rows × 2 columns" in diffs and "C: 2.0 → 0.5" in diffs
    # the comparison of the two versions has a row per artifact's contents, marked where they differ
    open_page(browser, (out / "models/iris/compare.html").as_uri(), tmp_path / "compare.png")
    rows = [tr for tr in css(browser, "#compare tr.sum")]
    assert rows and all("differs" in tr.get_attribute("class") for tr in rows if "C: " in tr.text)
    # and a version page says what each artifact holds
    open_page(browser, (out / "models/iris/v1.html").as_uri())
    assert "120 rows × 2 columns" in css(browser, "table.artifacts")[0].text


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[dict], list[tuple[str, int, bool]]]:
    """Step records as a run file holds them: each step reads outputs of earlier steps or outside artifacts,
    and writes artifacts, some linked to model versions."""
    steps: list[dict] = []
    made: list[dict] = []
    models: list[tuple[str, int, bool]] = []
    for index in range(draw(st.integers(1, 6))):
        inputs = {}
        for arg in range(draw(st.integers(0, 3))):
            if made and draw(st.booleans()):
                inputs[f"a{arg}"] = draw(st.sampled_from(made))
            else:
                inputs[f"a{arg}"] = {"name": f"outside{arg}", "type": "data", "uri": "u", "run": "earlier",
                                     "sha256": f"{draw(st.integers(0, 3)):064x}", "step": None}
        outputs = []
        for out in range(draw(st.integers(0, 2))):
            linked = draw(st.sampled_from([None, ("iris", 1), ("iris", 2), ("churn", 1)]))
            ref = {"name": f"s{index}_out{out}", "type": draw(st.sampled_from(["data", "model"])), "uri": "u",
                   "sha256": f"{draw(st.integers(0, 2 ** 32)):064x}", "step": f"s{index}", "version": 1,
                   "model": linked[0] if linked else None, "model_version": linked[1] if linked else None}
            outputs.append(ref)
            if linked and (linked[0], linked[1], True) not in models:
                models.append((linked[0], linked[1], True))
        made += outputs
        steps.append({"name": f"s{index}", "status": "completed", "inputs": inputs, "outputs": outputs})
    return steps, models


@given(runs())
def test_every_edge_runs_left_to_right_and_nodes_never_overlap(run) -> None:
    steps, models = run
    graph = run_graph(steps, models, {"iris"}, "../")
    by_key = {n.key: n for n in graph.nodes}
    assert len(by_key) == len(graph.nodes)
    for edge in graph.edges:
        assert by_key[edge.source].x < by_key[edge.target].x, edge  # data flows one way: left to right
    boxes = [(n.x, n.y) for n in graph.nodes]
    assert len(set(boxes)) == len(boxes)  # one place, one node
    assert all(n.x >= 0 and n.y >= 0 and n.x + n.width <= graph.width and n.y + n.height <= graph.height
               for n in graph.nodes)
    assert len([n for n in graph.nodes if n.kind == "step"]) == len(steps)
    assert {n.label for n in graph.nodes if n.kind == "version"} == {f"{m} v{v}" for m, v, _ in models}
    # a version page is linked only for a model the site has pages for
    assert all((n.href is not None) == n.label.startswith("iris ") for n in graph.nodes if n.kind == "version")
