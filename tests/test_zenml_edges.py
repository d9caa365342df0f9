"""ZenML's Model Control Plane at its edges, as a newcomer from ZenML meets them: a standalone artifact
linked afterwards, a run recorded on the versions whose artifacts it loads, an artifact version's version as
text, the latest version on Client.get_model, what deleting links leaves, and the warning when a run meets an
existing version configured otherwise (docs/how-to/coming-from.md, section ZenML)."""

from __future__ import annotations

import logging
from typing import Annotated

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitreg import Client, Model, link_artifact_to_model, load_artifact, pipeline, save_artifact, step
from gitreg.errors import InvalidValueError


def test_a_standalone_artifact_is_stored_then_linked_as_zenml_does(repo, client: Client) -> None:
    standalone = save_artifact({"rows": 3}, "dataset")  # no model, outside a step: stored, linked to nothing
    assert standalone.version == 1 and standalone.type == "data" and not standalone.external
    assert client.registry.store().has(standalone.sha256)  # the bytes are in the store
    assert client.list_models() == []  # in no manifest yet: nothing registered
    with pytest.raises(InvalidValueError, match="needs model="):
        load_artifact("dataset")  # gitreg finds artifacts through a model version only
    target = Model("iris", version="candidate")
    linked = link_artifact_to_model(standalone, model=target)
    assert (linked.sha256, linked.version) == (standalone.sha256, 1)
    assert load_artifact("dataset", model=target) == {"rows": 3}
    assert client.check().ok


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(links=st.integers(min_value=1, max_value=4))
def test_an_artifact_version_is_text_as_in_zenml(client: Client, links: int) -> None:
    model = Model("iris", version="latest") if client.list_models() else Model("iris")
    for i in range(links):
        model.save_artifact(b"x%d" % i, "weights")
    found = client.get_artifact_version("weights", model_name="iris")
    assert found.version == str(found.number) and isinstance(found.version, str)
    assert [a.version for a in client.list_artifacts("iris", None)] == [str(n) for n in range(1, found.number + 1)]


def test_get_model_carries_the_latest_version_name_and_id(client: Client) -> None:
    client.create_model("iris")
    assert (client.get_model("iris").latest_version_name, client.get_model("iris").latest_version_id) == (None, None)
    client.create_model_version("iris")
    client.create_model_version("iris", name="candidate")
    got = client.get_model("iris")
    assert (got.latest_version_name, got.latest_version_id) == ("candidate", 2)
    assert [(m.name, m.latest_version_id) for m in client.list_models()] == [("iris", 2)]
    client.delete_model_version("iris", 2)
    assert client.get_model("iris").latest_version_id == 1  # the highest left


def test_a_step_that_loads_an_artifact_records_the_run_on_that_version(client: Client) -> None:
    trained = Model("iris")
    trained.save_artifact({"w": 1}, "weights")
    number = trained.number

    @step
    def score() -> Annotated[int, "score"]:
        weights = load_artifact("weights", model=Model("iris", version="latest"))
        return weights["w"] + 1

    @pipeline(model=Model("report"))
    def evaluate() -> None:
        score()

    run = evaluate()
    consumed = client.get_model_version("iris", number)
    assert run.id in consumed.runs  # consumption registers the run, as in ZenML
    assert ("iris", number, False) in client.get_run(run.id).models
    assert [r.id for r in client.list_runs("iris", number)] == [run.id]
    assert consumed.artifacts == trained.manifest.artifacts  # nothing linked to it by loading
    assert client.check().ok


def test_loading_outside_a_run_records_nothing(client: Client) -> None:
    model = Model("iris")
    model.save_artifact(b"w", "weights")
    head = client.registry.repo.commit_of("HEAD")
    assert load_artifact("weights", model="iris") == b"w"
    assert client.registry.repo.commit_of("HEAD") == head


@pytest.mark.parametrize("only_link", [True, False])
def test_counts_after_deleting_every_link(client: Client, only_link: bool) -> None:
    model = Model("iris")
    model.save_artifact(b"a", "a")
    model.save_artifact(b"b", "b", type="model")
    other = Model("iris", version="other")
    other.save_artifact(b"a", "a")  # the same bytes linked elsewhere
    model.delete_all_artifacts(only_link=only_link, delete_from_artifact_store=not only_link)
    assert client.list_artifacts("iris", model.number) == []
    assert len(model.manifest.artifacts) == 0
    assert [a.name for a in client.list_artifacts("iris", "other")] == ["a"]  # other versions keep theirs
    assert other.load_artifact("a") == b"a"  # shared bytes stay in the store either way
    assert client.check().ok


def test_an_existing_version_configured_otherwise_keeps_its_own_and_says_how_to_change_it(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    Model("iris", version="nightly", description="first", tags=["a"]).number
    caplog.set_level(logging.WARNING, logger="gitreg")

    @step
    def touch() -> Annotated[int, "n"]:
        return 1

    @pipeline(model=Model("iris", version="nightly", description="second", tags=["b"]))
    def again() -> None:
        touch()

    again()
    version = client.get_model_version("iris", "nightly")
    assert (version.description, version.tags) == ("first", ("a",))
    warned = [r.getMessage() for r in caplog.records if "gitreg model version update" in r.getMessage()]
    assert warned and "`gitreg model version update iris 1 --description second --tag b --remove-tag a`" in warned[0]
    caplog.clear()
    Model("iris", version="nightly").number  # no configuration given: nothing differs, no warning
    assert not [r for r in caplog.records if "gitreg model version update" in r.getMessage()]


def test_a_step_run_again_on_an_existing_version_with_a_fixed_artifact_version(client: Client) -> None:
    from gitreg import ArtifactConfig
    from gitreg.errors import PipelineError

    value = {"n": 1}

    @step
    def make() -> Annotated[dict, ArtifactConfig(name="x", version="1")]:
        return dict(value)

    @pipeline(model=Model("m", version="nightly"))
    def nightly() -> None:
        make()

    nightly()
    nightly()  # the same bytes again: the same link, once (twice made the version unreadable)
    assert [(a.name, a.version) for a in client.get_model_version("m", "nightly").artifacts] == [("x", 1)]
    assert len(client.list_runs("m", "nightly")) == 2
    value["n"] = 2
    with pytest.raises(PipelineError, match=r"artifact 'x' version 1 exists already on m v1 .* Leave"
                                            r" ArtifactConfig\(version=...\) out to get the next version \(2\)"):
        nightly()
    assert client.load_artifact("m", "nightly", "x") == {"n": 1}  # never replaced
    assert client.check().ok


def test_a_version_loaded_from_and_deleted_during_the_run_does_not_fail_its_record(client: Client) -> None:
    old = Model("iris")
    old.save_artifact(b"w", "weights")

    @step
    def use_then_retire() -> Annotated[int, "n"]:
        load_artifact("weights", model=Model("iris", version=1))
        Client().delete_model_version("iris", 1)  # retired while the run goes on
        return 1

    @pipeline(model=Model("report"))
    def p() -> None:
        use_then_retire()

    run = p()
    assert client.get_run(run.id).status == "completed"
    assert [v.number for v in client.list_model_versions("iris")] == []
    assert client.check().ok
