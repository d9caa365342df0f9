"""Aliases (named exclusive pointers beyond the stages, DESIGN.md) and key/value tags, through the API."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gitreg import Client
from gitreg.errors import (
    AliasConflictError,
    AmbiguousStageError,
    InvalidNameError,
    InvalidValueError,
    StageConflictError,
    VersionNotFoundError,
)
from gitreg.stages import validate_alias


def _yaml(repo: Path, path: str) -> dict:
    return yaml.safe_load((repo / path).read_text())


def _head_files(repo: Path) -> list[str]:
    out = subprocess.run(["git", "show", "--name-only", "--format=", "HEAD"], cwd=repo, check=True,
                         capture_output=True, text=True).stdout
    return sorted(out.split())


def test_an_alias_is_one_line_of_stages_yaml_and_a_list_entry_of_its_version(client: Client, repo: Path):
    for _ in range(3):
        client.create_model_version("iris")
    found = client.set_alias("iris", "champion", 2, reason="best f1")
    assert found.number == 2 and found.aliases == ("champion",)
    assert _yaml(repo, ".mcp/models/iris/stages.yaml")["aliases"] == {"champion": 2}
    assert _yaml(repo, ".mcp/models/iris/versions/2.yaml")["aliases"] == ["champion"]
    assert _head_files(repo) == [".mcp/models/iris/stages.yaml", ".mcp/models/iris/versions/2.yaml"]
    subject = subprocess.run(["git", "log", "-1", "--format=%B"], cwd=repo, capture_output=True, text=True).stdout
    assert subject.startswith("iris v2 -> @champion\n") and "reason: best f1" in subject
    assert client.get_model_version_by_alias("iris", "champion").number == 2
    assert client.check().ok


def test_an_alias_held_by_another_version_moves_only_with_force(client: Client, repo: Path):
    for _ in range(3):
        client.create_model_version("iris")
    client.set_alias("iris", "champion", 1)
    with pytest.raises(AliasConflictError) as caught:
        client.set_alias("iris", "champion", 3)
    assert caught.value.holder == 1 and caught.value.wanted == 3 and "force=True" in str(caught.value)
    assert client.get_model_version_by_alias("iris", "champion").number == 1
    client.set_alias("iris", "champion", 3, force=True)
    assert client.get_model_version_by_alias("iris", "champion").number == 3
    assert client.get_model_version("iris", 1).aliases == () and client.get_model_version("iris", 1).stage == "none"
    assert _head_files(repo) == [".mcp/models/iris/stages.yaml", ".mcp/models/iris/versions/1.yaml",
                                 ".mcp/models/iris/versions/3.yaml"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
    client.set_alias("iris", "champion", 3)  # already there: nothing to commit
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout == head
    assert client.check().ok


def test_deleting_an_alias_or_its_version_removes_it(client: Client, repo: Path):
    for _ in range(2):
        client.create_model_version("iris")
    client.set_alias("iris", "champion", 1)
    client.set_alias("iris", "challenger", 2)
    client.delete_alias("iris", "champion")
    assert "champion" not in _yaml(repo, ".mcp/models/iris/stages.yaml").get("aliases", {})
    assert "aliases" not in _yaml(repo, ".mcp/models/iris/versions/1.yaml")
    with pytest.raises(VersionNotFoundError, match="champion"):
        client.get_model_version_by_alias("iris", "champion")
    client.delete_alias("iris", "champion")  # nothing holds it: nothing to do
    client.delete_model_version("iris", 2)
    assert "aliases" not in _yaml(repo, ".mcp/models/iris/stages.yaml")
    assert client.check().ok


def test_the_exclusive_stages_are_aliases_too(client: Client):
    for _ in range(2):
        client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    assert client.get_model_version_by_alias("iris", "production").number == 1
    with pytest.raises(StageConflictError) as caught:  # the stage's own conflict
        client.set_alias("iris", "production", 2)
    assert not isinstance(caught.value, AliasConflictError) and "archive version 1" in str(caught.value)
    client.set_alias("iris", "production", 2, force=True)
    assert client.get_model_version("iris", 1).stage == "archived"
    assert client.get_model_version("iris", "production").number == 2
    client.delete_alias("iris", "production")
    assert client.get_model_version("iris", 2).stage == "archived"
    assert client.check().ok


@pytest.mark.parametrize("bad", ["latest", "archived", "none", "v3", "Champion", "1st", "a b", "", "x" * 64])
def test_names_an_alias_cannot_have(client: Client, bad: str):
    client.create_model_version("iris")
    with pytest.raises(InvalidNameError):
        client.set_alias("iris", bad, 1)


@given(st.from_regex(r"[a-z][a-z0-9_-]{0,62}", fullmatch=True))
@settings(max_examples=200)
def test_the_alias_grammar_is_the_schema_s(alias: str):
    from gitreg.manifests import schema_problems

    try:
        validate_alias(alias)
        accepted = alias not in ("production", "staging")
    except InvalidNameError:
        accepted = False
    problems = schema_problems("stages", {"production": None, "staging": None, "aliases": {alias: 1}})
    assert (not problems) == accepted, (alias, problems)


def test_check_finds_an_alias_the_manifests_disagree_about(client: Client, repo: Path):
    for _ in range(2):
        client.create_model_version("iris")
    client.set_alias("iris", "champion", 1)
    path = repo / ".mcp/models/iris/stages.yaml"
    path.write_text(path.read_text().replace("champion: 1", "champion: 2"))
    subprocess.run(["git", "commit", "-qam", "hand edit"], cwd=repo, check=True)
    report = Client(repo).check()
    codes = {p.code for p in report.problems}
    assert "stage-conflict" in codes, report.problems
    with pytest.raises(AmbiguousStageError, match=r"alias 'champion' is claimed by versions 1 and 2.*set_alias"):
        Client(repo).get_model_version_by_alias("iris", "champion")
    # the repair is setting it again
    Client(repo).set_alias("iris", "champion", 2, force=True)
    assert Client(repo).check().ok


def test_check_finds_an_alias_pointing_at_no_version(client: Client, repo: Path):
    client.create_model_version("iris")
    client.set_alias("iris", "champion", 1)
    path = repo / ".mcp/models/iris/stages.yaml"
    path.write_text(path.read_text().replace("champion: 1", "champion: 7"))
    subprocess.run(["git", "commit", "-qam", "hand edit"], cwd=repo, check=True)
    assert "stage-conflict" in {p.code for p in Client(repo).check().problems}


def test_key_value_tags_live_beside_the_tag_list(client: Client, repo: Path):
    client.create_model("iris", tags=["tabular"], tag_values={"owner": "ana", "team name": "fraud & risk"})
    card = _yaml(repo, ".mcp/models/iris/model.yaml")
    assert card["tags"] == ["tabular"] and card["tag_values"] == {"owner": "ana", "team name": "fraud & risk"}
    client.update_model("iris", tag_values={"tabular": "yes"}, remove_tag_values=["owner"])
    model = client.get_model("iris")
    assert model.tags == () and dict(model.tag_values) == {"tabular": "yes", "team name": "fraud & risk"}
    client.update_model("iris", add_tags=["tabular"])
    model = client.get_model("iris")
    assert model.tags == ("tabular",) and "tabular" not in model.tag_values  # a key is in one of the two
    version = client.create_model_version("iris", tag_values={"mlflow.source": "runs:/1/model"})
    assert dict(version.tag_values) == {"mlflow.source": "runs:/1/model"}
    client.update_model_version("iris", 1, tag_values={"k": "v"}, remove_tag_values=["mlflow.source"])
    assert dict(client.get_model_version("iris", 1).tag_values) == {"k": "v"}
    with pytest.raises(InvalidValueError):
        client.update_model_version("iris", 1, tag_values={"": "v"})
    assert client.check().ok


def test_a_display_name_is_kept_beside_the_folder_name(client: Client, repo: Path):
    client.create_model("my-model-1", display_name="My Model!")
    assert _yaml(repo, ".mcp/models/my-model-1/model.yaml")["display_name"] == "My Model!"
    assert client.get_model("my-model-1").shown_name == "My Model!"
    client.create_model("plain", display_name="plain")  # the same as the name: not written
    assert "display_name" not in _yaml(repo, ".mcp/models/plain/model.yaml")
    assert client.check().ok


def test_review_flags_an_alias_given_to_a_version_the_same_change_registers(client: Client, repo: Path):
    client.create_model_version("iris")
    subprocess.run(["git", "branch", "base"], cwd=repo, check=True)
    client.set_alias("iris", "champion", 1)  # a version the base holds already: an ordinary move
    assert "promotes-unreviewed" not in {p.code for p in client.check(base="base").problems}
    client.create_model_version("iris")
    client.set_alias("iris", "challenger", 2)  # bytes nobody reviewed, straight behind an alias
    found = [p for p in client.check(base="base").problems if p.code == "promotes-unreviewed"]
    assert len(found) == 1 and found[0].path.endswith("versions/2.yaml") and "@challenger" in found[0].message
    assert found[0].field == "aliases"
    assert client.check(base="base", allow=["promotes-unreviewed"]).ok
