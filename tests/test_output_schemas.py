"""Output for scripts: every command's ``-o json`` against its JSON Schema in schemas/output/, yaml the
same object, list items equal to describe output, one timestamp form, and ``--field PATH``."""

from __future__ import annotations

import json
import re
import typing
from datetime import UTC
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import yaml

from conftest import git
from gitreg import Client, Model, pipeline, step
from gitreg.cli.app import app, main

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "output"
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
RUN_ID = "<run>"  # stands for the id of the registry's pipeline run

# Every command that takes `-o json`: its schema, whether it prints a list of such objects, its arguments.
# A command missing here fails test_every_json_command_is_known: a new command needs its schema.
COMMANDS: dict[str, tuple[str, bool, list[str]]] = {
    "check": ("check_report", False, []),
    "diff": ("comparison", False, ["iris", "1", "3"]),
    "model list": ("model", True, []),
    "model describe": ("model", False, ["iris"]),
    "model runs": ("run", True, ["iris", "-v", "2"]),
    "model version list": ("version", True, ["iris"]),
    "model version describe": ("version", False, ["iris", "1"]),
    "model version runs": ("run", True, ["iris", "2"]),
    "model version history": ("history_event", True, ["iris"]),
    "model version compare": ("comparison", False, ["iris", "1", "2", "3"]),
    "metadata show": ("metadata", False, ["iris", "1"]),
    "artifact list": ("artifact", True, ["iris", "1"]),
    "artifact get": ("artifact", False, ["iris", "1", "weights"]),
    "run list": ("run", True, []),
    "run describe": ("run", False, [RUN_ID]),
}
for _kind in ("data", "model", "deployment"):
    for _spelling in (f"{_kind}_artifacts", f"{_kind}-artifacts"):
        COMMANDS[f"model {_spelling}"] = ("artifact", True, ["iris", "-v", "1"])
        COMMANDS[f"model version {_spelling}"] = ("artifact", True, ["iris", "1"])


def json_commands() -> dict[str, str]:
    """Every command of the app with an output option offering json (an Enum with a json member, or a -o/--output
    whose choices say json), and that option's long name."""
    found: dict[str, str] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):  # a group
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
            return
        hints = typing.get_type_hints(command.callback)
        for param in command.params:
            kind = hints.get(param.name)
            if isinstance(kind, type) and issubclass(kind, Enum) and "json" in [m.value for m in kind]:
                found[" ".join(path)] = max(param.opts, key=len)
            elif "--output" in param.opts and "json" in (param.metavar or "").strip("[]").split("|"):
                found[" ".join(path)] = "--output"  # -o read by the command (it also takes a deprecated path)

    walk(typer.main.get_command(app), ())
    return found


def validator(name: str):
    import jsonschema
    from referencing import Registry, Resource

    resources = []
    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, registry=Registry().with_resources(resources), format_checker=cls.FORMAT_CHECKER)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def output(capsys, *args: str) -> Any:
    code, out, err = run(capsys, *args)
    assert code == 0, (args, err)
    return json.loads(out)


@step
def load_rows() -> Annotated[list, "rows"]:
    return [1, 2, 3]


@step
def train(rows: list, rate: float = 0.5) -> Annotated[dict, "trained"]:
    return {"weights": [rate] * len(rows)}


@pipeline(model=Model("iris"))
def training(rate: float = 0.5):
    train(load_rows(), rate=rate)


@pytest.fixture
def registry(repo: Path, client: Client, tmp_path: Path) -> dict[str, str]:
    """iris v1 (metadata; model, data, deployment, pickled and linked-in-place artifacts; archived),
    v2 (made by a pipeline run; staging), v3 (production, taken from v2 with --force... then v2 staged),
    and an empty model."""
    client.create_model("iris", license="MIT", description="Iris species", tags=["tabular"])
    client.create_model_version("iris", description="the first", tags=["baseline"],
                                metadata={"accuracy": 0.9, "params": {"C": 1, "kernel": "rbf"}, "train.lr": 0.1})
    for name, kind in (("weights", "model"), ("train", "data"), ("server", "deployment")):
        file = tmp_path / f"{name}.bin"
        file.write_bytes(name.encode() * 10)
        client.add_artifact("iris", 1, str(file), name, type=kind)
    client.save_artifact("iris", 1, {1, 2}, "odd")  # a set: pickled, so it runs code when loaded
    outside = tmp_path / "outside.txt"
    outside.write_text("linked in place")
    client.add_artifact("iris", 1, str(outside), "notes", link=True)
    result = training(rate=0.25)
    client.log_metadata("iris", 2, {"accuracy": 0.95, "params": {"C": 2}})
    client.create_model_version("iris", name="candidate", metadata={"accuracy": "n/a"})
    client.update_model_version("iris", 2, stage="production", reason="better")
    client.update_model_version("iris", 3, stage="production", force=True)  # v2 archived
    client.update_model_version("iris", 2, stage="staging")
    client.update_model_version("iris", 1, stage="archived")
    client.create_model("empty")
    return {"run": result.id}


def args_of(command: str, registry: dict[str, str]) -> list[str]:
    return [registry["run"] if a == RUN_ID else a for a in COMMANDS[command][2]]


# ---------------------------------------------------------------- every command against its schema

def test_every_json_command_is_known():
    found = json_commands()
    assert set(found) == set(COMMANDS), ("commands taking -o json without a schema here:",
                                         sorted(set(found) - set(COMMANDS)),
                                         "gone:", sorted(set(COMMANDS) - set(found)))
    for name, _, _ in COMMANDS.values():
        assert (SCHEMAS / f"{name}.schema.json").is_file(), name


def _shapes(node: Any):
    """Every (sub)schema of ``node`` that names its keys (``properties``)."""
    if isinstance(node, dict):
        if "properties" in node:
            yield node
        for value in node.values():
            yield from _shapes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _shapes(value)


def test_every_schema_is_strict_and_shipped_where_the_package_finds_it():
    from gitreg.manifests import schema_dir

    assert (schema_dir() / "output").resolve() == SCHEMAS.resolve()
    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", path.name
        assert schema["$id"].endswith("/output/" + path.name), path.name
        validator(path.name[:-len(".schema.json")])  # the schema itself is valid
        if path.name in ("metadata.schema.json", "common.schema.json"):
            continue  # the user's own keys; shared definitions
        objects = list(_shapes(schema))
        assert schema in objects, path.name
        for obj in objects:  # every object with named keys: no others, and each one always there
            assert obj["additionalProperties"] is False, (path.name, obj)
            assert sorted(obj["required"]) == sorted(obj["properties"]), (path.name, obj)
    assert "schemas" in Path(__file__).resolve().parent.parent.joinpath("pyproject.toml").read_text()


def test_every_json_command_matches_its_schema_and_yaml_is_the_same_object(registry, capsys):
    for command, option in json_commands().items():
        schema, is_list, _ = COMMANDS[command]
        args = [*command.split(), *args_of(command, registry)]
        data = output(capsys, *args, option, "json")
        check = validator(schema)
        items = data if is_list else [data]
        if is_list:
            assert isinstance(data, list) and data, (command, "lists nothing: the test would prove nothing")
        for item in items:
            errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in check.iter_errors(item)]
            assert not errors, (command, errors)
        code, out, err = run(capsys, *args, option, "yaml")
        assert code == 0, (command, err)
        assert yaml.safe_load(out) == data, command


def test_timestamps_have_one_form_everywhere(registry, capsys):
    seen = []

    def stamps(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                stamps(v, k)
        elif isinstance(value, list):
            for v in value:
                stamps(v, key)
        elif key in ("created", "started", "ended", "when") and isinstance(value, str):
            seen.append(value)
            assert STAMP.match(value), (key, value)

    for command in ("model describe", "model version list", "run list", "model version history", "artifact list",
                    "model version compare"):
        stamps(output(capsys, *command.split(), *args_of(command, registry), "-o", "json"))
    assert len(seen) > 20


def test_a_hand_edited_time_with_an_offset_shows_in_utc_and_the_manifest_keeps_it(registry, repo, capsys):
    path = repo / ".mcp" / "models" / "iris" / "versions" / "1.yaml"
    text = path.read_text()
    created = re.search(r"^created: (.*)$", text, re.M).group(1)
    path.write_text(text.replace(f"created: {created}", "created: '2026-11-30T01:20:48.5+02:30'"))
    git(repo, "commit", "-qam", "hand edit")
    assert output(capsys, "model", "version", "describe", "iris", "1", "-o", "json")["created"] == \
        "2026-11-29T22:50:48.500Z"
    assert "created: '2026-11-30T01:20:48.5+02:30'" in path.read_text()
    history = output(capsys, "model", "version", "history", "iris", "-o", "json")
    tag_date = git(repo, "tag", "-l", "--format=%(taggerdate:unix)", "models/iris/v1")
    from datetime import datetime

    assert history[0]["when"] == datetime.fromtimestamp(int(tag_date), UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")


def test_timestamp_conversion():
    from gitreg.views import timestamp

    assert timestamp("2026-11-29T22:50:48Z") == "2026-11-29T22:50:48.000Z"
    assert timestamp("2026-11-29T22:50:48.848Z") == "2026-11-29T22:50:48.848Z"
    assert timestamp("2026-11-29T22:50:48.999999+00:00") == "2026-11-29T22:50:48.999Z"  # cut, never rounded up
    assert timestamp("2026-11-30T00:50:48+02:00") == "2026-11-29T22:50:48.000Z"
    assert timestamp("2026-11-29T20:50:48-02:00") == "2026-11-29T22:50:48.000Z"
    assert timestamp("2026-12-31T23:30:00-01:00") == "2027-01-01T00:30:00.000Z"
    assert timestamp(None) is None
    assert timestamp("last tuesday") == "last tuesday"  # no date: shown as written


# ---------------------------------------------------------------- one shape per object

def test_list_items_are_the_describe_objects(registry, capsys):
    versions = output(capsys, "model", "version", "list", "iris", "-o", "json")
    assert [v["number"] for v in versions] == [1, 2, 3]
    for v in versions:
        assert output(capsys, "model", "version", "describe", "iris", str(v["number"]), "-o", "json") == v
    one = versions[0]
    assert one["stage"] == "archived" and one["description"] == "the first" and one["created_by_run"] is None
    assert one["metadata"] == {"accuracy": 0.9, "params": {"C": 1, "kernel": "rbf"}, "train.lr": 0.1}
    assert versions[1]["created_by_run"] == {"id": registry["run"], "status": "completed"}
    assert versions[2]["description"] is None and versions[2]["runs"] == []
    artifacts = output(capsys, "artifact", "list", "iris", "1", "-o", "json")
    assert one["artifacts"] == artifacts
    assert {a["name"]: (a["type"], a["executes_code"], a["external"]) for a in artifacts} == {
        "weights": ("model", False, False), "train": ("data", False, False), "server": ("deployment", False, False),
        "odd": ("data", True, False), "notes": ("data", False, True)}
    for a in artifacts:
        assert output(capsys, "artifact", "get", "iris", "1", a["name"], "--format", "json") == a
    assert output(capsys, "model", "version", "model_artifacts", "iris", "1", "-o", "json") == \
        [a for a in artifacts if a["type"] == "model"]
    models = output(capsys, "model", "list", "-o", "json")
    assert [m["name"] for m in models] == ["empty", "iris"]
    for m in models:
        assert output(capsys, "model", "describe", m["name"], "-o", "json") == m
    assert (models[1]["versions"], models[1]["latest"], models[1]["staging"], models[1]["production"]) == \
        ([1, 2, 3], 3, 2, 3)
    assert (models[0]["versions"], models[0]["latest"], models[0]["license"]) == ([], None, None)
    runs = output(capsys, "run", "list", "-o", "json")
    assert [r["id"] for r in runs] == [registry["run"]]
    assert output(capsys, "run", "describe", registry["run"], "-o", "json") == runs[0]
    assert output(capsys, "model", "version", "runs", "iris", "2", "-o", "json") == runs
    assert [s["name"] for s in runs[0]["steps"]] == ["load_rows", "train"]
    assert runs[0]["steps"][1]["inputs"]["rows"]["name"] == "rows"
    comparison = output(capsys, "model", "version", "compare", "iris", "1", "3", "-o", "json")
    assert comparison["versions"] == [versions[0], versions[2]]
    accuracy = next(r for r in comparison["metadata"] if r["key"] == "accuracy")
    assert accuracy["values"] == {"1": 0.9, "3": "n/a"} and accuracy["deltas"] == {"1": None, "3": None}
    kernel = next(r for r in comparison["metadata"] if r["key"] == "params.kernel")
    assert kernel["values"] == {"1": "rbf", "3": None} and kernel["present"] == {"1": True, "3": False}
    assert output(capsys, "metadata", "show", "iris", "1", "-o", "json") == one["metadata"]


def test_internal_bookkeeping_stays_out(registry, capsys):
    model = output(capsys, "model", "describe", "iris", "-o", "json")
    version = output(capsys, "model", "version", "describe", "iris", "1", "-o", "json")
    assert "counters" not in model and "format" not in model and "format" not in version
    run_doc = output(capsys, "run", "describe", registry["run"], "-o", "json")
    assert "format" not in run_doc


def test_history_events_say_who_and_what_was_demoted(registry, capsys):
    events = output(capsys, "model", "version", "history", "iris", "-o", "json")
    forced = next(e for e in events if e["event"] == "stage" and e["version"] == 3)
    assert (forced["from"], forced["to"], forced["demoted"]) == ("none", "production", [2])
    registered = next(e for e in events if e["event"] == "registered" and e["version"] == 3)
    assert registered["from"] is None and registered["reason"] is None and registered["by"]


# ---------------------------------------------------------------- --field

def test_field_prints_one_value(registry, capsys, tmp_path):
    def field(*args: str) -> str:
        code, out, err = run(capsys, *args)
        assert code == 0, (args, err)
        return out

    assert field("model", "version", "describe", "iris", "production", "--field", "number") == "3\n"
    assert field("model", "version", "describe", "iris", "3", "--field", "name") == "candidate\n"  # text: raw
    assert field("model", "version", "describe", "iris", "1", "--field", "metadata.accuracy") == "0.9\n"
    assert field("model", "version", "describe", "iris", "1", "--field", "metadata.params.kernel") == "rbf\n"
    assert field("model", "version", "describe", "iris", "1", "--field", "metadata.train.lr") == "0.1\n"
    assert json.loads(field("model", "version", "describe", "iris", "1", "--field", "metadata.params")) == \
        {"C": 1, "kernel": "rbf"}
    assert field("model", "version", "describe", "iris", "3", "--field", "description") == "null\n"
    assert field("model", "version", "describe", "iris", "1", "--field", "artifacts.0.name") == "weights\n"
    uri = field("model", "version", "describe", "iris", "1", "--field", "artifacts.0.uri").strip()
    assert uri == field("artifact", "get", "iris", "1", "weights", "--field", "uri").strip() and uri
    assert field("artifact", "get", "iris", "1", "odd", "--field", "executes_code") == "true\n"
    assert field("model", "describe", "iris", "--field", "production") == "3\n"
    assert field("model", "describe", "empty", "--field", "latest") == "null\n"
    assert field("run", "describe", registry["run"], "--field", "steps.1.parameters.rate") == "0.25\n"
    assert field("run", "describe", registry["run"], "--field", "status") == "completed\n"


def test_a_missing_field_is_not_found_and_names_the_fields(registry, capsys):
    code, out, err = run(capsys, "model", "version", "describe", "iris", "1", "--field", "numbr")
    assert code == 4 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("error: iris v1 has no field 'numbr'") and "number, name, stage" in err
    code, _, err = run(capsys, "model", "version", "describe", "iris", "3", "--field", "metadata.loss")
    assert code == 4 and "metadata has no 'loss' (its keys: accuracy)" in err and "created_by_run" in err
    code, _, err = run(capsys, "model", "version", "describe", "iris", "1", "--field", "artifacts.9.uri")
    assert code == 4 and "artifacts is a list of 5 item(s), 0 to 4, no '9'" in err
    code, _, err = run(capsys, "model", "version", "describe", "iris", "1", "--field", "created_by_run.id")
    assert code == 4 and "created_by_run is null" in err
    code, _, err = run(capsys, "model", "version", "describe", "iris", "1", "--field", "name.first")
    assert code == 4 and "name is text, it has no 'first'" in err
    code, _, err = run(capsys, "run", "describe", registry["run"], "--field", "nope")
    assert code == 4 and "pipeline, status" in err
    code, _, err = run(capsys, "artifact", "get", "iris", "1", "weights", "--field", "md5")
    assert code == 4 and "sha256" in err
    code, _, err = run(capsys, "model", "describe", "iris", "--field", "owner")
    assert code == 4 and "license" in err


def test_field_usage_errors(registry, capsys, tmp_path):
    code, _, err = run(capsys, "model", "version", "describe", "iris", "1", "--field", "metadata..x")
    assert code == 2 and err.startswith("error: --field")
    code, _, err = run(capsys, "model", "version", "describe", "iris", "1", "--field", "number", "-o", "json")
    assert code == 2 and "--field" in err
    code, _, err = run(capsys, "artifact", "get", "iris", "1", "weights", "--field", "uri", "-o",
                       str(tmp_path / "x"))
    assert code == 2 and not (tmp_path / "x").exists()


def test_yaml_of_a_listing_is_the_json_list_not_a_wrapped_mapping(repo, client, capsys):
    client.create_model_version("iris", metadata={"accuracy": 0.9})
    client.create_model_version("iris")
    listing = output(capsys, "model", "version", "list", "iris", "-o", "json")
    code, out, _ = run(capsys, "model", "version", "list", "iris", "-o", "yaml")
    assert code == 0 and yaml.safe_load(out) == listing and [v["number"] for v in listing] == [1, 2]


def test_tables_keep_the_manifests_own_times(repo, client, capsys, tmp_path):
    file = tmp_path / "w.bin"
    file.write_bytes(b"w")
    client.create_model_version("iris")
    created = client.add_artifact("iris", 1, str(file), "weights").created
    code, out, _ = run(capsys, "artifact", "get", "iris", "1", "weights")
    assert code == 0 and re.search(rf"^created\s+{re.escape(created)}$", out, re.M), out
    code, out, _ = run(capsys, "model", "version", "list", "iris")
    assert client.get_model_version("iris", 1).created in out and ".000Z" not in out
