"""Pipelines: steps, models, contexts, outputs, lineage, run records, one commit per run."""

from __future__ import annotations

import multiprocessing
import sys
import textwrap
from pathlib import Path
from typing import Annotated

import pytest

from conftest import git
from gitreg import (
    ArtifactConfig,
    Model,
    get_pipeline_context,
    get_step_context,
    log_model_metadata,
    pipeline,
    step,
)
from gitreg.errors import PipelineError, VersionNotFoundError


def commits(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "HEAD"))


# ---------------------------------------------------------------- steps used below

@step
def load() -> tuple[Annotated[list, "features"], Annotated[list, "labels"]]:
    return [[5.1, 3.5], [6.2, 2.9]], [0, 1]


@step
def unnamed_pair() -> tuple[int, str]:
    return 7, "seven"


@step
def train(x: list, y: list, c: float = 1.0) -> Annotated[dict, ArtifactConfig(name="weights", is_model_artifact=True)]:
    log_model_metadata({"c": c, "train_rows": len(x)})
    return {"w": [c] * len(x[0])}


@step
def evaluate(weights: dict) -> float:
    get_step_context().model.log_metadata({"accuracy": 0.9})
    return 0.9


@step
def no_output(weights: dict) -> None:
    return None


@pipeline(model=Model("iris", license="MIT", description="iris species"))
def training(c: float = 1.0):
    x, y = load()
    weights = train(x, y, c=c)
    evaluate(weights)
    no_output(weights)


# ---------------------------------------------------------------- one run, one commit, one version

def test_a_run_is_two_commits_with_a_new_version_and_every_output_linked(repo, client):
    before = commits(repo)
    result = training(c=2.0)
    assert result.status == "completed" and result.versions == {"iris": [1]}
    assert commits(repo) == before + 2  # the version registered at the start, the run recorded at the end
    assert git(repo, "log", "-1", "--format=%s").startswith(f"run {result.id}: training completed (iris v1")
    assert git(repo, "log", "-1", "--skip=1", "--format=%s") == f"run {result.id}: training started (iris v1)"
    assert git(repo, "tag", "-l") == "models/iris/v1"
    assert git(repo, "rev-parse", "models/iris/v1^{commit}") == git(repo, "rev-parse", "HEAD~1")
    assert git(repo, "status", "--porcelain") == ""
    v1 = client.get_model_version("iris", 1)
    assert client.get_model("iris").license == "MIT"
    assert {(a.name, a.version, a.type) for a in v1.artifacts} == {
        ("features", 1, "data"), ("labels", 1, "data"), ("weights", 1, "model"), ("evaluate_output", 1, "data")}
    assert all(a.run == result.id for a in v1.artifacts)
    assert {a.name: a.step for a in v1.artifacts}["weights"] == "train"
    assert v1.metadata == {"c": 2.0, "train_rows": 2, "accuracy": 0.9}
    assert v1.runs == (result.id,)
    assert (v1.created_by_run, v1.run_status) == (result.id, "completed")
    assert client.load_artifact("iris", 1, "weights") == {"w": [2.0, 2.0]}
    # re-running makes version 2, and artifact versions count per name
    again = training()
    assert again.versions == {"iris": [2]}
    assert [a.version for a in client.get_model_version("iris", 2).links("weights")] == [2]
    # identical bytes are stored once: both runs' features point at one object
    uris = {next(client.get_model_version("iris", n).links("features")).uri for n in (1, 2)}
    assert len(uris) == 1


def test_a_named_version_is_created_once_and_then_reused(repo, client):
    @step
    def work() -> Annotated[int, "value"]:
        return 1

    @pipeline(model=Model("iris", version="candidate"))
    def p():
        work()

    first, second = p(), p()
    assert first.versions == second.versions == {"iris": [1]}
    v = client.get_model_version("iris", "candidate")
    assert v.number == 1 and v.runs == (first.id, second.id)
    assert [a.version for a in v.links("value")] == [1, 2]
    assert client.get_run(first.id).models == (("iris", 1, True),)
    assert client.get_run(second.id).models == (("iris", 1, False),)


def _pipeline_in_repo(repo: Path, name: str = "train_code"):
    """The pipeline above, as a module file in the registry's own repository (committed)."""
    import importlib.util

    source = Path(__file__).read_text()
    start, end = source.index("# ---------------------------------------------------------------- steps used below"), \
        source.index("# ---------------------------------------------------------------- one run, one commit")
    header = "from typing import Annotated, Tuple\nfrom gitreg import *\n"
    path = repo / f"{name}.py"
    path.write_text(header + source[start:end])
    git(repo, "add", path.name)
    git(repo, "commit", "-qm", "pipeline code")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


def test_the_run_record(repo, client):
    module, _path = _pipeline_in_repo(repo)
    code = git(repo, "rev-parse", "HEAD")
    result = module.training(c=3.0)
    run = client.get_run(result.id)
    assert run.pipeline == "training" and run.status == "completed" and run.error is None
    assert run.parameters == {"c": 3.0}
    assert run.code_commit == code and run.code_dirty is False
    assert run.models == (("iris", 1, True),)
    assert run.started <= run.ended
    steps = {s["name"]: s for s in run.steps}
    assert list(steps) == ["load", "train", "evaluate", "no_output"]
    assert steps["train"]["parameters"] == {"c": 3.0}
    # lineage: train's inputs are load's outputs, with their artifact versions
    assert steps["train"]["inputs"]["x"] == steps["load"]["outputs"][0]
    assert steps["train"]["inputs"]["x"]["name"] == "features" and steps["train"]["inputs"]["x"]["step"] == "load"
    assert steps["evaluate"]["inputs"]["weights"]["name"] == "weights"
    assert steps["no_output"]["outputs"] == []
    assert [r.id for r in client.list_runs("iris", 1)] == [result.id]
    from gitreg.cli.app import main

    assert main(["run", "describe", result.id]) == 0
    assert main(["model", "version", "runs", "iris", "1", "-o", "json"]) == 0
    assert main(["run", "describe", "nope"]) == 4


def test_dirty_code_is_recorded(repo, client):
    module, path = _pipeline_in_repo(repo)
    path.write_text(path.read_text() + "# an uncommitted edit\n")
    result = module.training()
    assert client.get_run(result.id).code_dirty is True
    assert path.read_text().endswith("# an uncommitted edit\n")  # the user's change is untouched
    assert git(repo, "status", "--porcelain") == "M train_code.py"  # (stripped " M")


# ---------------------------------------------------------------- outputs

def test_output_names_and_kinds(repo, client):
    from sklearn.svm import SVC

    @step
    def fit() -> Annotated[SVC, "trained_model"]:
        return SVC().fit([[0, 0], [1, 1], [0, 1], [1, 0]], [0, 1, 0, 1])

    @step
    def plain():
        return {"a": 1}

    @step
    def deploy() -> Annotated[bytes, ArtifactConfig(name="bundle", is_deployment_artifact=True)]:
        return b"bundle"

    @step
    def explicit() -> Annotated[str, ArtifactConfig(artifact_type="model")]:
        return "a model as text"

    @pipeline(model=Model("kinds"))
    def kinds():
        fit()
        plain()
        unnamed_pair()
        deploy()
        explicit()

    kinds()
    v = client.get_model_version("kinds", 1)
    found = {a.name: a.type for a in v.artifacts}
    assert found == {"trained_model": "model", "plain_output": "data", "unnamed_pair_output_0": "data",
                     "unnamed_pair_output_1": "data", "bundle": "deployment", "explicit_output": "model"}
    assert client.load_artifact("kinds", 1, "unnamed_pair_output_1") == "seven"


def test_a_step_returning_the_wrong_number_of_outputs_fails_the_run(repo, client):
    @step
    def bad() -> tuple[Annotated[int, "a"], Annotated[int, "b"]]:
        return 1  # type: ignore[return-value]

    @pipeline(model=Model("m"))
    def p():
        bad()

    with pytest.raises(PipelineError, match="declares 2 outputs but returned int"):
        p()
    assert client.list_runs()[0].status == "failed"


# ---------------------------------------------------------------- models and contexts

def test_step_model_overrides_the_pipeline_model_and_contexts_see_them(repo, client):
    seen = {}

    @step(model=Model("detector"))
    def detect() -> Annotated[int, "boxes"]:
        seen["step"] = get_step_context().model.name
        seen["pipeline"] = get_pipeline_context().model.name
        log_model_metadata({"boxes": 3})
        return 3

    @step
    def classify() -> Annotated[int, "labels"]:
        seen["classify"] = get_step_context().model.name
        return 1

    @pipeline(model=Model("classifier"))
    def both():
        detect()
        classify()

    result = both()
    assert seen == {"step": "detector", "pipeline": "classifier", "classify": "classifier"}
    assert result.versions == {"classifier": [1], "detector": [1]}
    assert [a.name for a in client.get_model_version("detector", 1).artifacts] == ["boxes"]
    assert [a.name for a in client.get_model_version("classifier", 1).artifacts] == ["labels"]
    assert client.get_model_version("detector", 1).metadata == {"boxes": 3}
    assert client.get_model_version("classifier", 1).metadata == {}
    with pytest.raises(PipelineError, match="only inside a step"):
        get_step_context()
    with pytest.raises(PipelineError, match="only while a pipeline runs"):
        get_pipeline_context()


def test_one_new_version_per_run_shared_by_every_step(repo, client):
    models = []

    @step(model=Model("shared"))
    def first() -> Annotated[int, "a"]:
        models.append(get_step_context().model)
        return 1

    @step
    def second() -> Annotated[int, "b"]:
        models.append(get_step_context().model)
        assert get_step_context().model.number == 1  # numbered when the run starts, as in ZenML
        return 2

    @pipeline(model=Model("shared"))
    def p():
        first()
        second()

    result = p()
    assert result.versions == {"shared": [1]}
    assert models[0] is models[1] and models[0].number == 1
    assert len(client.list_model_versions("shared")) == 1


def test_an_existing_version_is_used_not_created(repo, client):
    client.create_model_version("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    predictions = []

    @step
    def predict() -> Annotated[list, "predictions"]:
        model = get_step_context().model
        predictions.append(model.number)
        return [0, 1]

    @pipeline(model=Model("iris", version="production"))
    def inference():
        predict()

    result = inference()
    assert result.versions == {"iris": [1]} and predictions == [1]
    assert len(client.list_model_versions("iris")) == 2
    assert client.get_model_version("iris", 1).runs == (result.id,)
    assert [a.name for a in client.get_model_version("iris", 1).artifacts] == ["predictions"]


def test_a_missing_stage_fails_before_any_step_runs(repo, client):
    client.create_model_version("iris")
    ran = []

    @step
    def work() -> int:
        ran.append(1)
        return 1

    @step(model=Model("iris", version="staging"))
    def staged() -> int:
        ran.append(2)
        return 2

    @pipeline(model=Model("iris", version="latest"))
    def p():
        work()
        staged()

    before = commits(repo)
    with pytest.raises(VersionNotFoundError, match="staging"):
        p()
    assert ran == [] and commits(repo) == before and client.list_runs() == []


def test_a_step_that_does_not_run_creates_no_version(repo, client):
    @step(model=Model("detector"))
    def optional() -> int:
        return 1

    @pipeline(model=Model("iris"))
    def p(use_detector: bool = False):
        load()
        if use_detector:
            optional()

    assert p().versions == {"iris": [1]}
    assert client.list_models() and [m.name for m in client.list_models()] == ["iris"]
    assert p(use_detector=True).versions == {"iris": [2], "detector": [1]}


def test_log_model_metadata_inside_a_step_without_a_model_is_a_clear_error(repo, client):
    @step
    def lonely() -> int:
        log_model_metadata({"a": 1})
        return 1

    @pipeline
    def p():
        lonely()

    with pytest.raises(Exception, match="needs model_name"):
        p()


# ---------------------------------------------------------------- failures and concurrency

def test_a_failed_run_is_recorded_with_its_error_and_keeps_its_artifacts(repo, client):
    @step
    def boom(weights: dict) -> int:
        raise RuntimeError("out of memory")

    @pipeline(model=Model("iris"))
    def failing():
        x, y = load()
        weights = train(x, y)
        boom(weights)
        train(x, y)  # never reached

    before = commits(repo)
    with pytest.raises(RuntimeError, match="out of memory"):
        failing()
    assert commits(repo) == before + 2  # registered at the start, recorded all the same at the end
    [run] = client.list_runs()
    assert run.status == "failed" and run.error == "RuntimeError: out of memory"
    assert [(s["name"], s["status"]) for s in run.steps] == [("load", "completed"), ("train", "completed"),
                                                               ("boom", "failed")]
    assert run.steps[-1]["error"] == "RuntimeError: out of memory"
    v1 = client.get_model_version("iris", 1)
    assert v1.runs == (run.id,) and {a.name for a in v1.artifacts} == {"features", "labels", "weights"}
    assert (v1.created_by_run, v1.run_status) == (run.id, "failed")
    assert client.load_artifact("iris", 1, "weights") == {"w": [1.0, 1.0]}
    assert git(repo, "log", "-1", "--format=%s").startswith(f"run {run.id}: failing failed")
    # a re-run makes the next version
    @pipeline(model=Model("iris"))
    def fixed():
        load()

    assert fixed().versions == {"iris": [2]}


_SCRIPT = """
import sys
from typing import Annotated
from gitreg import Model, pipeline, step

@step
def work(i: int) -> Annotated[int, "value"]:
    return i

@pipeline(model=Model("iris"))
def p(i: int = 0):
    for j in range(3):
        work(i * 10 + j)

p(int(sys.argv[1]))
"""


def _run_script(args):
    import subprocess

    path, cwd, i = args
    return subprocess.run([sys.executable, path, str(i)], cwd=cwd, capture_output=True, text=True)


def test_two_pipelines_at_once_in_one_clone_give_two_complete_versions(repo, client, tmp_path):
    script = tmp_path / "p.py"
    script.write_text(textwrap.dedent(_SCRIPT))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.map(_run_script, [(str(script), str(repo), i) for i in (1, 2)])
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    versions = client.list_model_versions("iris")
    assert [v.number for v in versions] == [1, 2]
    for v in versions:
        assert len(v.runs) == 1 and [a.name for a in v.artifacts] == ["value"] * 3
        assert sorted(client.get_run(v.runs[0]).parameters.values())[0] in (1, 2)
    assert len(client.list_runs()) == 2
    assert git(repo, "status", "--porcelain") == ""


# ---------------------------------------------------------------- configuration

def test_yaml_config_and_precedence(repo, client, tmp_path):
    seen = {}

    @step
    def fit(c: float = 1.0, kernel: str = "rbf") -> Annotated[dict, "params"]:
        seen["fit"] = (get_step_context().model.name, c, kernel)
        return {"c": c, "kernel": kernel}

    @step
    def report(tag: str = "default") -> Annotated[str, "report"]:
        seen["report"] = (get_step_context().model.name, tag)
        return tag

    @pipeline
    def p(gamma: float = 0.1, label: str = "code-default"):
        seen["gamma"], seen["label"] = gamma, label
        fit()
        report(tag="from-code")

    config = tmp_path / "run.yaml"
    config.write_text(textwrap.dedent("""
        model:
          name: from_yaml
          license: Apache-2.0
          description: configured in YAML
        parameters:
          gamma: 0.5
          label: yaml
        steps:
          fit:
            parameters:
              c: 10.0
            model:
              name: fit_model
          report:
            parameters:
              tag: from-yaml
    """))
    result = p.with_options(config_path=config, parameters={"label": "with-options"})()
    # pipeline parameters: with_options > YAML > defaults; step parameters: code > step YAML > defaults
    assert seen["gamma"] == 0.5 and seen["label"] == "with-options"
    assert seen["fit"] == ("fit_model", 10.0, "rbf")
    assert seen["report"] == ("from_yaml", "from-code")
    assert result.versions == {"from_yaml": [1], "fit_model": [1]}
    assert client.get_model("from_yaml").license == "Apache-2.0"
    # code's model beats the YAML's model for the same level, YAML filling what code leaves unset
    p.with_options(config_path=config, model=Model("from_code"))()
    assert client.get_model("from_code").license == "Apache-2.0"
    assert seen["report"][0] == "from_code" and seen["fit"][0] == "fit_model"
    # call arguments beat everything
    p.with_options(config_path=config)(gamma=9.0)
    assert seen["gamma"] == 9.0


def test_bad_config_is_a_clear_error(repo, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("modle: {name: x}\n")
    with pytest.raises(Exception, match="unknown section"):
        training.with_options(config_path=config)()
    config.write_text("parameters: {nope: 1}\n")
    with pytest.raises(Exception, match="no parameter 'nope'"):
        training.with_options(config_path=config)()
    with pytest.raises(Exception, match="cannot read run config"):
        training.with_options(config_path=tmp_path / "missing.yaml")()


def test_steps_outside_a_pipeline_are_plain_functions(repo, client):
    assert load() == ([[5.1, 3.5], [6.2, 2.9]], [0, 1])
    assert client.list_runs() == []


def test_save_artifact_and_model_metadata_inside_a_step_land_on_the_run_version(repo, client):
    @step
    def extra() -> None:
        model = get_step_context().model
        model.save_artifact({"rows": 10}, "profile")
        model.log_metadata({"profiled": True})
        assert model.load_artifact("profile") == {"rows": 10}  # readable before the run is recorded

    @pipeline(model=Model("iris"))
    def p():
        extra()

    result = p()
    v = client.get_model_version("iris", 1)
    assert [(a.name, a.step, a.run) for a in v.artifacts] == [("profile", "extra", result.id)]
    assert v.metadata == {"profiled": True}
    assert client.get_run(result.id).steps[0]["outputs"][0]["name"] == "profile"


def test_check_validates_run_manifests(repo, client):
    from gitreg.check import check

    result = training()
    path = repo / f".mcp/runs/{result.id}.yaml"
    path.write_text(path.read_text().replace("status: completed", "status: finished", 1))
    git(repo, "commit", "-qam", "hand edit")
    report = check(client.registry.repo)
    assert [p.field for p in report.errors] == ["status"]


# ---------------------------------------------------------------- the shipped examples

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("script", ["iris/run.py", "quickstart.py"])
def test_examples_run_in_a_fresh_registry(repo, client, script):
    import subprocess

    res = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=repo, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    production = client.get_model_version("iris_classifier", "production")
    assert production.stage == "production"
    from gitreg.check import check

    assert check(client.registry.repo).ok
    if script == "iris/run.py":
        assert len(client.list_runs(pipeline="training_pipeline")) == 3
        [inference] = client.list_runs(pipeline="inference_pipeline")
        assert inference.models == (("iris_classifier", production.number, False),)
        assert {a.name for a in production.artifacts} >= {"trained_model", "X_train", "predictions"}
        assert client.get_artifact("iris_classifier", "production", "trained_model").type == "model"
        assert "predicted: setosa=5, versicolor=5, virginica=5" in res.stdout


def test_the_run_version_is_usable_inside_the_run(repo, client):
    client.create_model_version("iris")  # v1 exists: must not be mistaken for the run's version
    seen = {}

    @step
    def s() -> None:
        model = get_step_context().model
        seen["number"], seen["version"], seen["stage"] = model.number, model.version, model.stage
        seen["status"] = client.get_model_version("iris", model.number).run_status
        with pytest.raises(Exception, match="has no artifacts"):
            model.get_artifact("anything")
        with pytest.raises(Exception, match="has no artifacts"):
            model.load_artifact("not-saved-in-this-run")
        model.set_stage("staging")
        seen["after"] = model.stage

    @pipeline(model=Model("iris"))
    def p():
        s()

    assert p().versions == {"iris": [2]}
    assert seen == {"number": 2, "version": "2", "stage": "none", "status": "running", "after": "staging"}
    assert client.get_model_version("iris", "staging").number == 2
