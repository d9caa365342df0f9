"""Comparing versions: the core, Client.compare_model_versions, `model version compare`, `diff`, promotions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from gitreg import Client
from gitreg.cli.app import main
from gitreg.compare import ADDED, CHANGED, MISSING, SAME, flatten, promotion_summaries, promotions_markdown


def _file(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


@pytest.fixture
def three(client: Client, tmp_path: Path) -> Client:
    """iris v1..v3: nested metadata, a model file that changes, a data file that does not."""
    data = _file(tmp_path, "data.csv", "a,b\n1,2\n")
    for i, (acc, lr, extra) in enumerate([(0.9, 0.1, None), (0.93, 0.05, "x"), (0.88, 0.05, None)], start=1):
        meta = {"accuracy": acc, "train": {"lr": lr, "epochs": 10 * i}, "framework": "sklearn"}
        if extra:
            meta["note"] = extra
        client.create_model_version("iris", metadata=meta)
        client.add_artifact("iris", i, str(data), "data")
        client.add_artifact("iris", i, str(_file(tmp_path, f"m{i}.bin", "same" if i < 3 else "new")), "model",
                            type="model")
    client.update_model_version("iris", 3, stage="staging")
    return client


def test_flatten_nests_with_dots_and_keeps_lists_as_values() -> None:
    assert flatten({"a": {"b": {"c": 1}, "d": [1, 2]}, "e": {}, "f": "x"}) == {
        "a.b.c": 1, "a.d": [1, 2], "e": {}, "f": "x"}


def test_compare_rows_deltas_and_bytes(three: Client) -> None:
    c = three.compare_model_versions("iris", 1, "2", "staging")
    assert [col.number for col in c.columns] == [1, 2, 3]
    assert [col.stage for col in c.columns] == ["none", "none", "staging"]
    rows = {r.key: r for r in c.metadata}
    assert list(rows) == ["accuracy", "framework", "note", "train.epochs", "train.lr"]
    assert rows["accuracy"].deltas == (None, 0.03, -0.02)
    assert rows["train.epochs"].deltas == (None, 10, 20)
    assert rows["framework"].deltas == (None, None, None) and not rows["framework"].differs
    assert rows["note"].present == (False, True, False) and rows["note"].differs
    arts = {a.name: a for a in c.artifacts}
    assert arts["data"].statuses == ("", SAME, SAME) and not arts["data"].differs
    assert arts["model"].statuses == ("", SAME, CHANGED) and arts["model"].differs
    only = c.differences()
    assert [r.key for r in only.metadata] == ["accuracy", "note", "train.epochs", "train.lr"]
    assert [a.name for a in only.artifacts] == ["model"]


def test_compare_added_and_missing_artifacts(client: Client, tmp_path: Path) -> None:
    client.create_model_version("m")
    client.create_model_version("m")
    client.add_artifact("m", 2, str(_file(tmp_path, "f", "x")), "new")
    c = client.compare_model_versions("m", 1, 2)
    assert c.artifacts[0].statuses == ("", ADDED)
    assert client.compare_model_versions("m", 2, 1).artifacts[0].statuses == ("", MISSING)


def test_compare_needs_two_versions_of_one_model(client: Client, capsys) -> None:
    client.create_model_version("m")
    assert main(["model", "version", "compare", "m", "1"]) != 0
    assert "at least two versions" in capsys.readouterr().err
    assert main(["model", "version", "compare", "m", "1", "7"]) != 0
    err = capsys.readouterr().err
    assert "error:" in err and "7" in err and "Traceback" not in err


def test_cli_compare_formats(three: Client, capsys) -> None:
    assert main(["model", "version", "compare", "iris", "1", "2", "3"]) == 0
    out = capsys.readouterr().out
    assert "train.lr" in out and "0.93 (+0.03)" in out and "0.88 (-0.02)" in out
    assert "changed" in out and "staging" in out
    assert main(["model", "version", "compare", "iris", "1", "3", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    acc = next(r for r in data["metadata"] if r["key"] == "accuracy")
    assert acc["values"] == {"1": 0.9, "3": 0.88} and acc["deltas"] == {"1": None, "3": -0.02}
    model = next(a for a in data["artifacts"] if a["name"] == "model")
    assert model["versions"]["3"]["status"] == CHANGED
    assert main(["model", "version", "compare", "iris", "1", "3", "-o", "yaml"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["model"] == "iris"
    assert main(["model", "version", "compare", "iris", "1", "3", "-o", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("| | v1 | v3 |") and "| `accuracy` | 0.9 | 0.88 (-0.02) |" in md


def test_cli_diff_shows_only_what_differs(three: Client, capsys) -> None:
    assert main(["diff", "iris", "1", "2"]) == 0
    out = capsys.readouterr().out
    assert "note" in out and "accuracy" in out and "train.lr" in out
    assert "framework" not in out  # equal everywhere
    assert "artifact" not in out   # same bytes everywhere
    assert "stage" not in out      # both in none
    assert main(["diff", "iris", "1", "3", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["key"] for r in data["metadata"]} == {"accuracy", "train.epochs", "train.lr"}
    assert [a["name"] for a in data["artifacts"]] == ["model"]


def test_markdown_cells_cannot_break_the_table(client: Client) -> None:
    client.create_model_version("m", metadata={"a|b": "x|y\n<img src=x>"})
    client.create_model_version("m", metadata={"a|b": "z"})
    md = client.compare_model_versions("m", 1, 2).to_markdown()
    line = next(row for row in md.splitlines() if "a\\|b" in row)
    assert line.count(" | ") == 2 + 0 and "<img" not in md and "x\\|y &lt;img src=x&gt;" in line


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def test_promotion_summaries_compare_with_the_replaced_version(three: Client, repo: Path) -> None:
    three.update_model_version("iris", 1, stage="production")
    three.create_model_version("other", metadata={"x": 1})
    base = _git(repo, "rev-parse", "HEAD")
    three.update_model_version("iris", 3, stage="production", force=True)  # replaces v1, which is archived
    three.update_model_version("iris", 2, stage="staging")  # v3 held staging at the base
    three.log_metadata("other", 1, {"x": 2})                    # no stage change: not a promotion
    head = _git(repo, "rev-parse", "HEAD")
    got = promotion_summaries(three.registry.repo, base, head)
    moves = {(p.model, p.version): p for p in got}
    assert set(moves) == {("iris", 1), ("iris", 2), ("iris", 3)}
    prod = moves[("iris", 3)]
    assert (prod.from_stage, prod.to_stage, prod.replaced) == ("staging", "production", 1)
    assert [c.number for c in prod.comparison.columns] == [1, 3]
    assert {r.key: r.deltas[1] for r in prod.comparison.metadata}["accuracy"] == -0.02
    staging = moves[("iris", 2)]
    assert (staging.from_stage, staging.replaced) == ("none", 3)
    demoted = moves[("iris", 1)]
    assert demoted.to_stage == "archived" and demoted.comparison is None
    md = promotions_markdown(got)
    assert "### iris v3: staging -> production" in md and "Replaces v1 in production." in md
    assert "| `accuracy` | 0.9 | 0.88 (-0.02) |" in md
    assert promotion_summaries(three.registry.repo, head, head) == []
    assert "No stage changes" in promotions_markdown([])


def test_promotion_of_a_new_version_and_a_new_model(client: Client, repo: Path) -> None:
    client.create_model_version("a")
    base = _git(repo, "rev-parse", "HEAD")
    client.create_model_version("b")
    client.update_model_version("b", 1, stage="production")
    got = promotion_summaries(client.registry.repo, base, _git(repo, "rev-parse", "HEAD"))
    assert [(p.model, p.version, p.from_stage, p.to_stage, p.replaced, p.comparison) for p in got] == [
        ("b", 1, None, "production", None, None)]
    assert "nothing to compare with" in promotions_markdown(got)
