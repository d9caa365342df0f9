"""MLflow's own client over a gitreg registry (the ``gitreg`` registry-store plugin, docs/how-to/mlflow.md).

Every call goes through MLflow's public client (``MlflowClient``, ``mlflow.register_model``,
``mlflow.pyfunc.load_model``) to the store MLflow finds through pyproject.toml's entry points; what it writes is
read back through gitreg's API and ``gitreg check``, and what gitreg's API writes is read through MLflow's.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from gitreg import Client
from gitreg.integrations.mlflow.naming import encoded_folder, folder_candidates, registry_location
from gitreg.names import is_valid_name
from mlflow_support import declared_entry_points, entry_points  # noqa: F401  (the fixture)


def registry_uri(repo: Path) -> str:
    return "gitreg://" + quote(str(repo))


@pytest.fixture
def ml(repo: Path, entry_points: Path, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:  # noqa: F811
    tracking = f"sqlite:///{repo.parent / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    return MlflowClient(tracking_uri=tracking, registry_uri=registry_uri(repo))


def error_code(call, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(MlflowException) as caught:
        call(*args, **kwargs)
    return caught.value.error_code, caught.value.message


def head_subject(repo: Path) -> str:
    return subprocess.run(["git", "log", "-1", "--format=%s"], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


# ---------------------------------------------------------------- the plugin and its URIs

def test_pyproject_declares_the_store_under_mlflows_group():
    points = declared_entry_points()
    assert set(points) == {"gitreg", "gitreg+file", "gitreg+http", "gitreg+https", "gitreg+ssh"}
    for target in points.values():
        module, _, name = target.partition(":")
        from mlflow.store.model_registry.abstract_store import AbstractStore

        assert issubclass(getattr(importlib.import_module(module), name), AbstractStore)


def test_importing_gitreg_does_not_import_mlflow():
    code = "import sys, gitreg, gitreg.integrations.mlflow; assert 'mlflow' not in sys.modules, 'mlflow imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registry_uris(tmp_path: Path):
    assert registry_location("gitreg:///srv/models") == "/srv/models"
    assert registry_location("gitreg:///srv/my%20models/") == "/srv/my models"
    assert registry_location("gitreg+https://host/models.git") == "https://host/models.git"
    assert registry_location("gitreg+ssh://git@host/models.git") == "ssh://git@host/models.git"
    for bad in ("gitreg://host/models", "gitreg:models", "gitreg+ftp://host/x", "sqlite:///x.db", "gitreg:///x?y=1"):
        with pytest.raises(ValueError, match="gitreg"):
            registry_location(bad)


def test_a_uri_without_a_registry_says_so(tmp_path: Path, entry_points: Path):  # noqa: F811
    code, message = error_code(MlflowClient(registry_uri=registry_uri(tmp_path)).search_registered_models)
    assert code == "INVALID_PARAMETER_VALUE" and "gitreg init" in message
    code, message = error_code(MlflowClient(registry_uri="gitreg://host/models").search_registered_models)
    assert code == "INVALID_PARAMETER_VALUE" and "gitreg:///ABSOLUTE/PATH" in message


def test_a_registry_by_git_url(tmp_path: Path, entry_points: Path):  # noqa: F811
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    Client.init(bare.as_uri(), store=str(tmp_path / "store"))
    uri = "gitreg+" + bare.as_uri()
    MlflowClient(registry_uri=uri).create_registered_model("by url")
    assert [m.name for m in MlflowClient(registry_uri=uri).search_registered_models()] == ["by url"]
    assert Client(bare.as_uri()).list_models()[0].shown_name == "by url"  # pushed to the remote


def test_mlflow_set_registry_uri_reaches_the_store(ml: MlflowClient, repo: Path,
                                                   monkeypatch: pytest.MonkeyPatch):
    import mlflow
    from mlflow.tracking._model_registry import utils

    monkeypatch.setattr(utils, "_registry_uri", utils._registry_uri)  # as it was, after the test
    mlflow.set_registry_uri(registry_uri(repo))
    MlflowClient().create_registered_model("through set_registry_uri")
    folder = encoded_folder("through set_registry_uri")
    assert folder.startswith("through-set-registry-uri-")  # a readable slug and a hash
    assert Client(repo).get_model(folder).shown_name == "through set_registry_uri"


# ---------------------------------------------------------------- names

mlflow_names = st.text(st.characters(exclude_characters="/:", exclude_categories=("Cs", "Cc")), min_size=1,
                       max_size=80).filter(lambda s: s.strip() != "" and s not in (".", ".."))


@given(mlflow_names)
@settings(max_examples=500)
def test_every_mlflow_name_has_a_folder_gitreg_accepts(name: str):
    folders = folder_candidates(name)
    assert all(is_valid_name(f) for f in folders)
    assert folders[-1] == encoded_folder(name) and len(folders) == (2 if is_valid_name(name) else 1)
    assert folders[0] == name or not is_valid_name(name)  # a gitreg name is its own folder


@given(st.lists(mlflow_names, min_size=2, max_size=20, unique=True))
def test_distinct_names_have_distinct_encoded_folders(names: list[str]):
    assert len({encoded_folder(n) for n in names}) == len(names)


@given(mlflow_names)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_mlflow_name_round_trips_through_the_registry(ml: MlflowClient, repo: Path, name: str):
    try:
        ml.get_registered_model(name)
        return  # drawn twice
    except MlflowException as exc:
        assert exc.error_code == "RESOURCE_DOES_NOT_EXIST"
    ml.create_registered_model(name, description="d")
    assert ml.get_registered_model(name).name == name
    if not any(c in name for c in "'\\\""):  # a name MLflow's filter grammar can quote
        assert [m.name for m in ml.search_registered_models(filter_string=f"name = '{name}'")] == [name]
    assert name in {m.name for m in ml.search_registered_models(max_results=1000)}
    assert name in {m.shown_name for m in Client(repo).list_models()}


def test_names_differing_only_in_case_are_two_models(ml: MlflowClient, repo: Path):
    ml.create_registered_model("iris")
    ml.create_registered_model("Iris")  # gitreg refuses the folder (one folder on macOS): an encoded one
    ml.create_model_version("Iris", "/nowhere")
    assert ml.get_registered_model("iris").latest_versions == []
    assert [v.version for v in ml.get_registered_model("Iris").latest_versions] == ["1"]
    assert sorted(m.name for m in ml.search_registered_models()) == ["Iris", "iris"]
    assert Client(repo).check().ok


def test_a_name_whose_folder_holds_another_name_gets_its_own(ml: MlflowClient):
    ml.create_registered_model("My Model")
    taken = encoded_folder("My Model")  # a valid gitreg name, taken by "My Model"
    ml.create_registered_model(taken)
    assert {m.name for m in ml.search_registered_models()} == {"My Model", taken}
    assert ml.get_registered_model(taken).name == taken


# ---------------------------------------------------------------- models and versions

def test_models_and_versions_with_tags_and_descriptions(ml: MlflowClient, repo: Path):
    ml.create_registered_model("fraud model!!!", tags={"owner": "ana", "tabular": ""}, description="card")
    assert "register model" in head_subject(repo)
    ml.update_registered_model("fraud model!!!", description="better card")
    ml.set_registered_model_tag("fraud model!!!", "team", "risk & fraud")
    ml.delete_registered_model_tag("fraud model!!!", "owner")
    model = ml.get_registered_model("fraud model!!!")
    assert model.description == "better card" and model.tags == {"tabular": "", "team": "risk & fraud"}
    v1 = ml.create_model_version("fraud model!!!", "/models/a", run_id=None, tags={"k": "v"}, description="first")
    assert (v1.version, v1.current_stage, v1.source, v1.tags, v1.description) == ("1", "None", "/models/a",
                                                                                   {"k": "v"}, "first")
    assert head_subject(repo) == f"{encoded_folder('fraud model!!!')} v1 registered"
    ml.update_model_version("fraud model!!!", "1", description="changed")
    ml.set_model_version_tag("fraud model!!!", "1", "validated", "")
    ml.set_model_version_tag("fraud model!!!", "1", "k", "w")
    ml.delete_model_version_tag("fraud model!!!", "1", "validated")
    v1 = ml.get_model_version("fraud model!!!", 1)
    assert v1.description == "changed" and v1.tags == {"k": "w"}
    assert v1.creation_timestamp % 1000 == 0 and v1.creation_timestamp > 1_700_000_000_000
    ml.create_model_version("fraud model!!!", "/models/b")
    ml.delete_model_version("fraud model!!!", "1")
    assert [v.version for v in ml.search_model_versions("name = 'fraud model!!!'")] == ["2"]
    assert Client(repo).check(allow=["version-deleted"]).ok
    ml.delete_registered_model("fraud model!!!")
    assert error_code(ml.get_registered_model, "fraud model!!!")[0] == "RESOURCE_DOES_NOT_EXIST"


def test_missing_models_and_versions_are_mlflows_errors(ml: MlflowClient):
    ml.create_registered_model("iris")
    ml.create_model_version("iris", "/m")
    assert error_code(ml.get_registered_model, "nope") == ("RESOURCE_DOES_NOT_EXIST",
                                                           "Registered Model with name=nope not found")
    assert error_code(ml.get_model_version, "iris", "7") == ("RESOURCE_DOES_NOT_EXIST",
                                                             "Model Version (name=iris, version=7) not found")
    assert error_code(ml.get_model_version, "nope", "1")[0] == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(ml.create_model_version, "nope", "/m")[0] == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(ml.delete_model_version, "iris", "7")[0] == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(ml.set_model_version_tag, "iris", "7", "k", "v")[0] == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(ml.get_model_version, "iris", "one")[0] == "INVALID_PARAMETER_VALUE"
    assert error_code(ml.create_registered_model, "iris")[0] == "RESOURCE_ALREADY_EXISTS"
    assert error_code(ml.create_registered_model, "a/b")[0] == "INVALID_PARAMETER_VALUE"
    assert error_code(ml.get_model_version_by_alias, "iris", "champion")[0] == "INVALID_PARAMETER_VALUE"


def test_what_gitreg_has_no_equal_for_says_why(ml: MlflowClient):
    ml.create_registered_model("iris")
    code, message = error_code(ml.rename_registered_model, "iris", "setosa")
    assert code == "INVALID_PARAMETER_VALUE" and "does not rename" in message
    assert ml.get_registered_model("iris").name == "iris"
    assert error_code(ml.rename_registered_model, "nope", "setosa")[0] == "RESOURCE_DOES_NOT_EXIST"
    code, message = error_code(ml.create_prompt, "greeting")  # MLflow 3's prompt API on the registry
    assert code == "FEATURE_DISABLED" and "prompt" in message
    # MLflow's client refuses a prompt's tag on a model itself; the store refuses it from any other caller
    from mlflow.entities.model_registry import RegisteredModelTag

    store = ml._get_registry_client().store
    code, message = error_code(store.create_registered_model, "p", [RegisteredModelTag("mlflow.prompt.is_prompt",
                                                                                        "true")])
    assert code == "FEATURE_DISABLED"
    code, message = error_code(ml.create_webhook, "hook", "https://example.com/hook", ["model_version.created"])
    assert code == "FEATURE_DISABLED" and "webhook" in message
    assert list(ml.list_webhooks()) == []
    # an alias gitreg's grammar cannot hold (upper case): MLflow's invalid-parameter error, with gitreg's reason
    ml.create_model_version("iris", "/m")
    code, message = error_code(ml.set_registered_model_alias, "iris", "Champion", "1")
    assert code == "INVALID_PARAMETER_VALUE" and "lower-case" in message


# ---------------------------------------------------------------- search, order, pages

def test_search_with_mlflows_filters_order_and_pages(ml: MlflowClient):
    names = ["alpha", "beta model", "gamma", "delta", "epsilon"]
    for i, name in enumerate(names):
        ml.create_registered_model(name, tags={"team": "a" if i % 2 == 0 else "b"})
        for _ in range(i % 3 + 1):
            ml.create_model_version(name, f"/m/{i}", tags={"parity": str(i % 2)})
    seen, token = [], None
    while True:
        page = ml.search_registered_models(max_results=2, order_by=["name DESC"], page_token=token)
        assert len(page) <= 2
        seen += [m.name for m in page]
        token = page.token
        if not token:
            break
    assert seen == sorted(names, reverse=True)
    assert sorted(m.name for m in ml.search_registered_models("tags.team = 'a'")) == ["alpha", "epsilon", "gamma"]
    assert [m.name for m in ml.search_registered_models("name LIKE '%model'")] == ["beta model"]
    versions = ml.search_model_versions("name = 'gamma'", order_by=["version_number ASC"])
    assert [v.version for v in versions] == ["1", "2", "3"]
    odd = ml.search_model_versions("tags.parity = '1'")
    assert sorted((v.name, v.version) for v in odd) == [("beta model", "1"), ("beta model", "2"), ("delta", "1")]
    assert error_code(ml.search_registered_models, "nonsense ~ 3")[0] == "INVALID_PARAMETER_VALUE"
    assert error_code(ml.search_registered_models, max_results=0)[0] == "INVALID_PARAMETER_VALUE"


# ---------------------------------------------------------------- stages and aliases

def test_stages_are_gitregs_exclusive_stages(ml: MlflowClient, repo: Path):
    ml.create_registered_model("iris")
    for _ in range(3):
        ml.create_model_version("iris", "/m")
    mv = ml.transition_model_version_stage("iris", "1", "Production")
    assert mv.current_stage == "Production" and head_subject(repo) == "iris v1 -> production"
    assert subprocess.run(["git", "tag", "-l", "models/iris/production/*"], cwd=repo, capture_output=True,
                          text=True).stdout.split() == ["models/iris/production/1"]
    # MLflow would keep two versions in Production; gitreg holds one and says how to move it
    code, message = error_code(ml.transition_model_version_stage, "iris", "2", "production")
    assert code == "INVALID_PARAMETER_VALUE" and "archive_existing_versions=True" in message
    ml.transition_model_version_stage("iris", "2", "Production", archive_existing_versions=True)
    assert ml.get_model_version("iris", "1").current_stage == "Archived"
    assert [v.version for v in ml.get_latest_versions("iris", ["Production"])] == ["2"]
    assert sorted((v.current_stage, v.version) for v in ml.get_latest_versions("iris")) == [
        ("Archived", "1"), ("None", "3"), ("Production", "2")]
    assert error_code(ml.transition_model_version_stage, "iris", "3", "Done")[0] == "INVALID_PARAMETER_VALUE"
    assert Client(repo).check().ok


def test_aliases_and_the_stages_seen_as_aliases(ml: MlflowClient, repo: Path):
    ml.create_registered_model("My Model")
    for _ in range(3):
        ml.create_model_version("My Model", "/m")
    ml.set_registered_model_alias("My Model", "champion", "1")
    ml.set_registered_model_alias("My Model", "champion", "2")  # MLflow moves an alias: no error
    assert ml.get_model_version_by_alias("My Model", "champion").version == "2"
    assert ml.get_model_version("My Model", "1").aliases == []
    ml.set_registered_model_alias("My Model", "production", "3")  # the stage
    assert ml.get_model_version("My Model", "3").current_stage == "Production"
    assert ml.get_registered_model("My Model").aliases == {"champion": "2", "production": "3"}
    assert ml.get_model_version_by_alias("My Model", "production").version == "3"
    assert ml.get_model_version_by_alias("My Model", "latest").version == "3"
    ml.delete_registered_model_alias("My Model", "champion")
    assert error_code(ml.get_model_version_by_alias, "My Model", "champion")[0] == "INVALID_PARAMETER_VALUE"
    ml.delete_registered_model_alias("My Model", "production")
    assert ml.get_model_version("My Model", "3").current_stage == "Archived"
    assert Client(repo).check().ok


# ---------------------------------------------------------------- both ways

def test_what_gitregs_api_writes_reads_through_mlflow(ml: MlflowClient, client: Client):
    client.create_model("iris", description="a card", tags=["tabular"], tag_values={"owner": "ana"})
    client.create_model_version("iris", name="first", description="v one", tags=["ok"], tag_values={"f1": "0.9"})
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    client.set_alias("iris", "champion", 2)
    model = ml.get_registered_model("iris")
    assert (model.name, model.description, model.tags) == ("iris", "a card", {"owner": "ana", "tabular": ""})
    assert model.aliases == {"champion": "2", "production": "1"}
    v1 = ml.get_model_version("iris", "1")
    assert (v1.current_stage, v1.description, v1.tags) == ("Production", "v one", {"f1": "0.9", "ok": ""})
    assert ml.get_model_version_by_alias("iris", "champion").version == "2"


def test_what_mlflow_writes_reads_through_gitregs_api(ml: MlflowClient, repo: Path):
    ml.create_registered_model("Fraud Detector", tags={"owner": "ana"}, description="card")
    ml.create_model_version("Fraud Detector", "s3://bucket/model", run_id="abc123", tags={"ok": ""})
    ml.set_registered_model_alias("Fraud Detector", "champion", "1")
    ml.transition_model_version_stage("Fraud Detector", "1", "Staging")
    gitreg = Client(repo)
    folder = encoded_folder("Fraud Detector")
    model = gitreg.get_model(folder)
    assert (model.shown_name, model.description, dict(model.tag_values)) == ("Fraud Detector", "card",
                                                                             {"owner": "ana"})
    version = gitreg.get_model_version(folder, "staging")
    assert version.number == 1 and version.tags == ("ok",) and version.aliases == ("champion",)
    assert version.metadata["mlflow"] == {"source": "s3://bucket/model", "run_id": "abc123"}
    assert gitreg.get_model_version_by_alias(folder, "champion").number == 1
    assert gitreg.check().ok


def test_register_a_logged_model_and_load_it_by_alias_and_number(repo: Path, ml: MlflowClient, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch):
    import mlflow
    import mlflow.pyfunc

    class Doubler(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return [2 * x for x in model_input]

    monkeypatch.setenv("MLFLOW_REGISTRY_URI", registry_uri(repo))  # the tracking URI: the ml fixture's
    experiment = mlflow.create_experiment("e", artifact_location=(tmp_path / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.pyfunc.log_model(name="model", python_model=Doubler())
    registered = mlflow.register_model(f"runs:/{run.info.run_id}/model", "Doubler Model")
    assert registered.version == "1" and registered.run_id == run.info.run_id
    MlflowClient().set_registered_model_alias("Doubler Model", "champion", "1")
    assert mlflow.pyfunc.load_model("models:/Doubler Model@champion").predict([1, 2]) == [2, 4]
    assert mlflow.pyfunc.load_model("models:/Doubler Model/1").predict([3]) == [6]
    uri = MlflowClient().get_model_version_download_uri("Doubler Model", "1")
    assert Path(uri.removeprefix("file://")).joinpath("MLmodel").is_file()


def test_filter_strings_select_what_the_tags_and_names_say(ml: MlflowClient):
    import fnmatch

    teams, names = ("a", "b", "c"), ["ant", "bee", "My Cat", "dog!", "eel", "Fox"]
    tagged = {}
    for i, name in enumerate(names):
        tags = {"team": teams[i % 3]} | ({"tier": str(i % 2)} if i % 4 else {})
        ml.create_registered_model(name, tags=tags)
        ml.create_model_version(name, f"/m/{i}", run_id=f"run{i % 2}")
        tagged[name] = tags

    def like(value: str, pattern: str, fold: bool) -> bool:
        glob = pattern.replace("%", "*").replace("_", "?")
        return fnmatch.fnmatchcase(value.lower() if fold else value, glob.lower() if fold else glob)

    clause = st.one_of(
        st.tuples(st.just("tag"), st.sampled_from(["team", "tier"]), st.sampled_from(["=", "!="]),
                  st.sampled_from(["a", "b", "c", "0", "1"])),
        st.tuples(st.just("name"), st.just("name"), st.sampled_from(["LIKE", "ILIKE"]),
                  st.sampled_from(["%a%", "b%", "%t", "my%", "%!", "_ee", "%"])))

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(clause, min_size=1, max_size=2))
    def check(clauses):
        text, wanted = [], set(names)
        for kind, key, op, value in clauses:
            if kind == "tag":
                text.append(f"tags.{key} {op} '{value}'")
                # MLflow's != on a tag matches the models that have the tag with another value
                wanted &= {n for n in names if key in tagged[n] and (tagged[n][key] == value) == (op == "=")}
            else:
                text.append(f"name {op} '{value}'")
                wanted &= {n for n in names if like(n, value, op == "ILIKE")}
        found = {m.name for m in ml.search_registered_models(" AND ".join(text), max_results=100)}
        assert found == wanted, (" AND ".join(text), found, wanted)

    check()
    assert {v.name for v in ml.search_model_versions("run_id = 'run1'")} == {"bee", "dog!", "Fox"}


def test_an_alias_a_hand_edit_made_ambiguous_is_an_invalid_state(ml: MlflowClient, repo: Path):
    ml.create_registered_model("iris")
    for _ in range(2):
        ml.create_model_version("iris", "/m")
    ml.set_registered_model_alias("iris", "champion", "1")
    stages = repo / ".mcp/models/iris/stages.yaml"
    stages.write_text(stages.read_text().replace("champion: 1", "champion: 2"))
    subprocess.run(["git", "commit", "-qam", "hand edit"], cwd=repo, check=True)
    code, message = error_code(ml.get_model_version_by_alias, "iris", "champion")
    assert code == "INVALID_STATE" and "set_alias" in message
    assert ml.get_model_version("iris", "2").version == "2"  # every other read works
    ml.set_registered_model_alias("iris", "champion", "2")  # the repair
    assert ml.get_model_version_by_alias("iris", "champion").version == "2"
    assert Client(repo).check().ok


def test_concurrent_writers_through_mlflow_lose_no_version(ml: MlflowClient, repo: Path, tmp_path: Path):
    # MLflow's server calls one store from many threads; another process (here: another store on the same
    # repository) writes beside it: gitreg's compare-and-swap commits keep every registration
    from concurrent.futures import ThreadPoolExecutor

    from gitreg.integrations.mlflow.store import GitregRegistryStore

    ml.create_registered_model("busy model")
    other = GitregRegistryStore(registry_uri(repo))

    def register(i: int) -> str:
        if i % 2:
            return other.create_model_version("busy model", f"/m/{i}").version
        return ml.create_model_version("busy model", f"/m/{i}").version

    with ThreadPoolExecutor(4) as pool:
        numbers = sorted(int(n) for n in pool.map(register, range(8)))
    assert numbers == list(range(1, 9))
    assert sorted(int(v.version) for v in ml.search_model_versions("name = 'busy model'")) == numbers
    assert Client(repo).check().ok
