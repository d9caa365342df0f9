"""ZenML's behaviour inside a running pipeline: the run's version exists from its start, name
placeholders, Step.with_options and id=, private (underscore) names, ArtifactConfig in full."""

from __future__ import annotations

import re
from typing import Annotated

import pytest

from conftest import git
from gitreg import (
    ArtifactConfig,
    ArtifactType,
    Client,
    Model,
    get_pipeline_context,
    get_step_context,
    pipeline,
    step,
)
from gitreg.cli.app import main
from gitreg.errors import InvalidNameError, InvalidValueError, PipelineError


@step
def _prepare() -> Annotated[list, "rows"]:  # a module-level private step: accepted at decoration time
    return [1, 2, 3]


@step
def _unnamed() -> int:
    return 5


# ---------------------------------------------------------------- the version exists from the start

def test_the_run_version_exists_with_its_number_from_the_start(repo, client, capsys):
    seen = {}

    @step
    def first() -> Annotated[dict, "x"]:
        model = get_step_context().model
        seen["number"], seen["version"] = model.number, model.version
        fresh = Client(repo).get_model_version("m", 1)  # anyone reading the registry sees it now
        seen["registered"] = (fresh.number, fresh.created_by_run, fresh.run_status)
        seen["tag"] = git(repo, "tag", "-l", "models/m/v1")
        capsys.readouterr()
        assert main(["model", "version", "list", "m"]) == 0
        seen["listing"] = capsys.readouterr().out
        return {"a": 1}

    @pipeline(model=Model("m"))
    def p():
        first()

    result = p()
    assert seen["number"] == 1 and seen["version"] == "1"
    assert seen["registered"] == (1, result.id, "running") and seen["tag"] == "models/m/v1"
    header, row = seen["listing"].splitlines()[:2]
    assert header.split()[:5] == ["VERSION", "NAME", "STAGE", "CREATED", "RUN"] and row.split()[4] == "running"
    assert main(["model", "version", "list", "m"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[4] == "completed"
    assert client.get_model_version("m", 1).run_status == "completed"


def test_a_failed_run_is_visible_in_listings_and_its_outputs_recover_a_later_run(repo, client, capsys):
    loaded = []

    @step
    def make() -> Annotated[dict, "features"]:
        return {"rows": 10}

    @step
    def use() -> None:
        features = get_step_context().model.get_artifact("features")  # an earlier step of the same run
        loaded.append(features.load())
        raise RuntimeError("trainer crashed")

    @pipeline(model=Model("m"))
    def failing():
        make()
        use()

    with pytest.raises(RuntimeError, match="trainer crashed"):
        failing()
    assert loaded == [{"rows": 10}]
    assert client.get_model_version("m", 1).run_status == "failed"
    assert main(["model", "version", "list", "m", "-o", "json"]) == 0
    import json

    [row] = json.loads(capsys.readouterr().out)
    assert row["created_by_run"]["status"] == "failed"

    @step
    def resume() -> Annotated[int, "rows"]:  # the failed run's version, by number, gives its outputs back
        return Model("m", version=1).get_artifact("features").load()["rows"]

    @pipeline(model=Model("m"))
    def recovery():
        resume()

    assert recovery().versions == {"m": [2, 1]}  # it made 2 and, as in ZenML, used 1 (it loaded v1's output)
    assert client.load_artifact("m", 2, "rows") == 10


def test_set_stage_inside_the_pipeline_body_and_a_step(repo, client):
    @step
    def promote() -> None:
        get_step_context().model.set_stage("production")

    @pipeline(model=Model("m"))
    def p():
        get_pipeline_context().model.set_stage("staging")
        assert get_pipeline_context().model.stage == "staging"
        promote()

    result = p()
    v1 = client.get_model_version("m", 1)
    assert v1.stage == "production" and v1.runs == (result.id,) and v1.run_status == "completed"
    assert git(repo, "tag", "-l", "models/m/staging/*") == "models/m/staging/1"
    assert git(repo, "tag", "-l", "models/m/production/*") == "models/m/production/1"


def test_a_step_model_is_registered_when_its_step_starts(repo, client):
    numbers = {}

    @step(model=Model("detector"))
    def detect() -> Annotated[int, "boxes"]:
        numbers["detector"] = get_step_context().model.number
        return 3

    @pipeline(model=Model("classifier"))
    def p():
        detect()

    result = p()
    assert numbers == {"detector": 1} and result.versions == {"classifier": [1], "detector": [1]}
    assert client.get_model_version("detector", 1).created_by_run == result.id


# ---------------------------------------------------------------- placeholders

STAMP = r"\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}_\d{6}"


def test_version_name_placeholders_are_filled_when_the_run_starts(repo, client):
    names = []

    @step
    def work() -> Annotated[int, "value"]:
        names.append(get_step_context().model.version)
        return 1

    @pipeline(model=Model("m", version="experiment_{date}_{time}"))
    def p():
        work()

    result = p()
    [name] = names
    assert re.fullmatch(f"experiment_{STAMP}", name)
    assert client.get_model_version("m", name).number == 1 and result.versions == {"m": [1]}


def test_custom_substitutions_from_the_pipeline_and_the_step(repo, client):
    @step
    def a() -> Annotated[int, "value"]:
        return get_step_context().model.version

    @step(model=Model("m", version="{team}_{date}"), substitutions={"team": "vision"})
    def b() -> Annotated[int, "value"]:
        return get_step_context().model.version

    @pipeline(model=Model("m", version="{team}_run"), substitutions={"team": "nlp"})
    def p():
        a()
        b()

    p()
    names = [v.name for v in client.list_model_versions("m")]
    assert names[0] == "nlp_run" and re.fullmatch(r"vision_\d{4}_\d{2}_\d{2}", names[1])
    p.with_options(substitutions={"team": "audio"})()
    assert client.list_model_versions("m")[2].name == "audio_run"
    with pytest.raises(InvalidValueError, match=r"no value for \{owner\}.*substitutions="):
        pipeline(name="missing", model=Model("m", version="{owner}_x"))(lambda: None)()


def test_placeholders_outside_a_run_and_bad_templates(repo, client):
    model = Model("m", version="nightly_{date}")
    assert re.fullmatch(r"nightly_\d{4}_\d{2}_\d{2}", model.version) and model.number == 1
    for bad in ("a/{date}", "{date.__class__}", "{date!r}", "x_{date", "{0}"):
        with pytest.raises((InvalidValueError, InvalidNameError)):
            Model("m", version=bad)


# ---------------------------------------------------------------- Step.with_options, id=

def test_step_with_options_model_parameters_and_the_call_id(repo, client):
    @step
    def score(factor: float = 1.0) -> Annotated[float, "score"]:
        return factor

    @pipeline(model=Model("main"))
    def p():
        score()
        score.with_options(model=Model("side"), parameters={"factor": 2.0})(id="side_score")
        score(factor=3.0)

    result = p()
    run = client.get_run(result.id)
    assert [(s["name"], s["parameters"]) for s in run.steps] == [
        ("score", {}), ("side_score", {"factor": 2.0}), ("score_2", {"factor": 3.0})]
    assert [a.step for a in client.get_model_version("side", 1).artifacts] == ["side_score"]
    assert client.load_artifact("side", 1, "score") == 2.0
    assert result.versions == {"main": [1], "side": [1]}

    @pipeline
    def twice():
        score(id="same")
        score(id="same")

    with pytest.raises(PipelineError, match="step id 'same' is used twice"):
        twice()
    with pytest.raises(InvalidValueError, match="no parameter 'nope'"):
        score.with_options(parameters={"nope": 1})


# ---------------------------------------------------------------- private names

def test_pipeline_and_step_names_may_start_with_an_underscore(repo, client):
    from gitreg.check import check

    @pipeline(model=Model("m"))
    def _train():
        _prepare()
        _unnamed()

    result = _train()
    run = client.get_run(result.id)
    assert run.pipeline == "_train" and result.id.startswith("train-")
    assert [s["name"] for s in run.steps] == ["_prepare", "_unnamed"]
    assert {a.name for a in client.get_model_version("m", 1).artifacts} == {"rows", "unnamed_output"}
    assert check(client.registry.repo).ok
    with pytest.raises(InvalidNameError):
        step(lambda: 1, name="__")


# ---------------------------------------------------------------- ArtifactConfig

def test_artifact_config_types_versions_tags_and_other_model_versions(repo, client):
    client.create_model_version("registry_model")  # v1: an existing version to link to

    @step
    def outputs() -> tuple[
        Annotated[bytes, ArtifactConfig(name="endpoint", artifact_type="service")],
        Annotated[bytes, ArtifactConfig(name="server", artifact_type=ArtifactType.SERVICE)],
        Annotated[str, ArtifactConfig(name="weights", artifact_type=ArtifactType.MODEL, version=7, tags=["best"])],
        Annotated[dict, ArtifactConfig(name="stats", artifact_type=ArtifactType.STATISTICS)],
        Annotated[str, ArtifactConfig(name="shared", model_name="registry_model", model_version=1)],
        Annotated[str, ArtifactConfig(name="fresh", model_name="other")],
    ]:
        return b"e", b"s", "w", {"n": 1}, "to v1", "to a new version"

    @pipeline(model=Model("m"))
    def p():
        outputs()

    result = p()
    v = client.get_model_version("m", 1)
    assert {(a.name, a.type, a.version) for a in v.artifacts} == {
        ("endpoint", "deployment", 1), ("server", "deployment", 1), ("weights", "model", 7), ("stats", "data", 1)}
    assert client.get_artifact("m", 1, "server", type="deployment").load() == b"s"
    assert [a.name for a in client.get_model_version("registry_model", 1).artifacts] == ["shared"]
    assert [a.name for a in client.get_model_version("other", 1).artifacts] == ["fresh"]
    assert sorted(result.versions) == ["m", "other", "registry_model"]
    weights = [o for o in client.get_run(result.id).steps[0]["outputs"] if o["name"] == "weights"]
    assert weights[0]["tags"] == ["best"] and weights[0]["version"] == 7
    with pytest.raises(InvalidValueError, match="unknown artifact_type"):
        ArtifactConfig(artifact_type="banana")
    with pytest.raises(InvalidValueError, match="artifact version is a number"):
        ArtifactConfig(version="v1")
    with pytest.raises(InvalidValueError, match="needs model_name"):
        ArtifactConfig(model_version=1)


def test_a_version_a_run_creates_gets_the_models_description_and_tags(repo, client):
    """ZenML applies Model(description=, tags=) to the version it creates, inside a pipeline too."""
    from gitreg import Model, pipeline, step

    @step
    def train() -> int:
        return 1

    @pipeline(model=Model(name="iris", description="Iris species", tags=["vision"]))
    def training() -> None:
        train()

    training()
    version = client.get_model_version("iris", "latest")
    assert version.description == "Iris species" and tuple(version.tags) == ("vision",)
    assert client.get_model("iris").description == "Iris species"
