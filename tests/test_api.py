"""The Python API: Model, Client and log_model_metadata, through real git."""

import subprocess

import pytest

from conftest import git
from gitreg import Client, Model, ModelStages, log_model_metadata
from gitreg.errors import (
    AlreadyExistsError,
    InvalidNameError,
    InvalidValueError,
    NotARegistryError,
    StageConflictError,
    VersionNotFoundError,
)


def test_model_none_creates_one_version_per_object(repo):
    m = Model("iris", license="MIT", description="Iris classifier")
    assert m.number == 1 and m.number == 1
    assert m.version == "1" and m.stage == "none"
    assert Model("iris").number == 2
    assert m.number == 1
    card = Client().get_model("iris")
    assert card.license == "MIT" and card.description == "Iris classifier"


def test_lookup_by_number_digit_string_latest_stage_and_name(repo):
    for _ in range(3):
        Model("iris").number
    assert Model("iris", version=2).number == 2
    assert Model("iris", version="2").number == 2
    assert Model("iris", version="latest").number == 3
    assert Model("iris", version=ModelStages.LATEST).number == 3
    Model("iris", version=2).set_stage(ModelStages.PRODUCTION)
    assert Model("iris", version="production").number == 2
    assert Model("iris", version=ModelStages.PRODUCTION).stage == ModelStages.PRODUCTION
    named = Model("iris", version="candidate")
    assert named.number == 4 and named.version == "candidate"
    assert Model("iris", version="candidate").number == 4


def test_missing_and_invalid_lookups(repo):
    Model("iris").number
    with pytest.raises(KeyError):
        Model("iris", version=9).number
    with pytest.raises(VersionNotFoundError, match="no version is in stage 'staging'"):
        Model("iris", version="staging").number
    with pytest.raises(KeyError, match="does not exist"):
        Model("nope", version="latest").number
    with pytest.raises(InvalidValueError):
        Model("iris", version=0)
    with pytest.raises(InvalidNameError):
        Model("../etc")


def test_reserved_version_names_cannot_be_created(client):
    client.create_model("iris")
    for bad in ("123", "latest", "production", "Staging", "none"):
        with pytest.raises((InvalidNameError, VersionNotFoundError)):
            client.create_model_version("iris", name=bad)
    v = client.create_model_version("iris", name="best")
    with pytest.raises(AlreadyExistsError):
        client.create_model_version("iris", name="best")
    assert v.name == "best"


def test_archived_lookup_is_ambiguous_with_two(client):
    for _ in range(3):
        client.create_model_version("m")
    client.update_model_version("m", 1, stage="archived")
    assert client.get_model_version("m", "archived").number == 1
    client.update_model_version("m", 2, stage="archived")
    with pytest.raises(VersionNotFoundError, match="ambiguous"):
        client.get_model_version("m", "archived")


def test_numbers_never_reused_after_delete(client):
    for _ in range(3):
        client.create_model_version("iris")
    client.delete_model_version("iris", 3)
    assert client.create_model_version("iris").number == 4
    with pytest.raises(VersionNotFoundError, match="deleted"):
        client.get_model_version("iris", 3)
    # even after deleting the whole model, the tags keep the numbers taken
    client.delete_model("iris")
    assert client.create_model_version("iris").number == 5


def test_exclusive_stages_and_force(repo, client):
    for _ in range(3):
        client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    with pytest.raises(StageConflictError) as info:
        client.update_model_version("iris", 2, stage="production")
    assert info.value.holder == 1 and info.value.wanted == 2
    assert client.get_model_version("iris", "production").number == 1
    head = git(repo, "rev-parse", "HEAD")
    client.update_model_version("iris", 2, stage="production", force=True, reason="better recall")
    assert git(repo, "rev-list", "--count", f"{head}..HEAD") == "1"  # demotion in the same commit
    assert client.get_model_version("iris", 1).stage == "archived"
    assert client.get_model_version("iris", "production").number == 2
    tag = git(repo, "cat-file", "-p", "models/iris/production/2")
    assert "iris v2 -> production" in tag and "demoted: v1" in tag and "reason: better recall" in tag
    assert "previous-stage: none" in tag and "by: Test User <test@example.com>" in tag
    # archived holds many, staging is exclusive too
    client.update_model_version("iris", 3, stage="archived")
    assert [v.number for v in client.list_model_versions("iris", stage="archived")] == [1, 3]
    client.update_model_version("iris", 3, stage="staging")
    with pytest.raises(StageConflictError):
        client.update_model_version("iris", 1, stage="staging")


def test_same_stage_is_a_noop(repo, client):
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="staging")
    head = git(repo, "rev-parse", "HEAD")
    tags = git(repo, "tag", "-l")
    client.update_model_version("iris", 1, stage="staging")
    Model("iris", version=1).set_stage("staging")
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "tag", "-l") == tags


def test_latest_cannot_be_set(client):
    client.create_model_version("iris")
    with pytest.raises(InvalidValueError, match="computed"):
        client.update_model_version("iris", 1, stage="latest")
    with pytest.raises(InvalidValueError, match="unknown stage"):
        client.update_model_version("iris", 1, stage="prod")


def test_registration_and_stage_tags(repo, client):
    client.create_model_version("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 2, stage="staging")
    client.update_model_version("iris", 2, stage="production")
    tags = git(repo, "tag", "-l", "models/iris/*").splitlines()
    assert tags == ["models/iris/production/1", "models/iris/staging/1", "models/iris/v1", "models/iris/v2"]
    assert git(repo, "cat-file", "-t", "models/iris/v2") == "tag"  # annotated
    assert git(repo, "rev-parse", "models/iris/production/1^{commit}") == git(repo, "rev-parse", "HEAD")
    assert git(repo, "log", "-1", "--format=%s", "models/iris/v1") == "iris v1 registered"
    subjects = git(repo, "log", "--format=%s", "--", ".mcp/models/iris").splitlines()
    assert subjects[0] == "iris v2 -> production"


def test_metadata_logging_merges(client):
    m = Model("iris")
    m.log_metadata({"accuracy": 0.9, "params": {"C": 1.0}})
    m.log_metadata({"params": {"kernel": "rbf"}, "f1": 0.8})
    md = m.run_metadata
    assert md["accuracy"].value == 0.9
    assert md["params"].value == {"C": 1.0, "kernel": "rbf"}
    log_model_metadata({"accuracy": 0.95}, model_name="iris")
    assert Model("iris", version="latest").run_metadata["accuracy"].value == 0.95
    log_model_metadata({"x": [1, 2]}, model_name="iris", version=m.number)
    with pytest.raises(InvalidValueError, match="not JSON-serialisable"):
        m.log_metadata({"bad": object()})
    with pytest.raises(InvalidValueError):
        log_model_metadata({"a": 1})
    assert "bad" not in m.run_metadata


def test_list_and_update(client):
    client.create_model("iris", license="MIT", tags=["vision"])
    client.create_model("bert", tags=["nlp"])
    assert [m.name for m in client.list_models()] == ["bert", "iris"]
    assert [m.name for m in client.list_models(tags=["nlp"])] == ["bert"]
    with pytest.raises(AlreadyExistsError):
        client.create_model("iris")
    client.update_model("iris", description="new", add_tags=["x"], remove_tags=["vision"])
    card = client.get_model("iris")
    assert card.description == "new" and card.tags == ("x",) and card.license == "MIT"
    v = client.create_model_version("iris", description="first", tags=["a", "b"])
    client.update_model_version("iris", v.number, name="golden", add_tags=["c"], remove_tags=["a"],
                                description="renamed")
    got = client.get_model_version("iris", "golden")
    assert (got.number, got.tags, got.description) == (1, ("b", "c"), "renamed")
    assert client.list_model_versions("iris", tags=["c"])[0].number == 1
    assert client.list_model_versions("iris", name="golden")[0].number == 1
    assert client.get_model_version("iris").number == 1  # None means latest
    client.log_metadata("iris", 1, {"acc": 0.9})
    assert [v.number for v in client.list_model_versions("iris", metadata=[("acc", "gt", 0.5)])] == [1]
    assert client.list_model_versions("iris", metadata=[("acc", "lt", 0.5)]) == []


def test_not_a_registry(hermetic, tmp_path):
    with pytest.raises(NotARegistryError, match="not inside a git repository"):
        Client(tmp_path / "home")
    subprocess.run(["git", "init", "-q", str(hermetic)], check=True)
    with pytest.raises(NotARegistryError, match="gitreg init"):
        Client(hermetic)


def test_client_finds_registry_upwards_and_via_env(repo, monkeypatch, tmp_path):
    sub = repo / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    Client().create_model_version("iris")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITREG_REPO", str(repo))
    assert Client().get_model_version("iris").number == 1


def test_init_twice_is_refused(repo):
    with pytest.raises(AlreadyExistsError):
        Client.init(repo)


def test_model_names_differing_only_in_case_are_refused(client):
    client.create_model("Iris")
    with pytest.raises(InvalidNameError, match="only in case"):
        client.create_model("iris")
    with pytest.raises(InvalidNameError, match="only in case"):
        Model("IRIS").number


def test_a_version_name_that_is_surely_a_stage_typo_is_refused_not_created(repo, client, capsys):
    """Model("m", version="prod") must not register a version named "prod" (and push it)."""
    import subprocess

    import pytest as _pytest

    from gitreg import Model
    from gitreg.cli.app import main
    from gitreg.errors import InvalidNameError

    client.create_model_version("m")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
    for typo, meant in (("prod", "production"), ("stagin", "staging"), ("lates", "latest"),
                        ("produciton", "production"), ("Archive", "archived")):
        with _pytest.raises(InvalidNameError, match=f"did you mean '{meant}'"):
            Model("m", version=typo).number
        assert main(["model", "version", "create", "m", "--name", typo]) == 2
        assert f"did you mean '{meant}'" in capsys.readouterr().err
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout == head
    assert Model("m", version="best").number == 2           # an ordinary name is still created
    assert Model("m", version="v2-candidate").number == 3


def test_an_existing_version_named_like_a_stage_typo_still_resolves(repo, client):
    """Names created before the rule (e.g. by hand) keep working; only new ones are refused."""
    import subprocess

    from gitreg import Model

    client.create_model_version("m", name="keep")
    path = repo / ".mcp/models/m/versions/1.yaml"
    path.write_text(path.read_text().replace("name: keep", "name: prod"))
    subprocess.run(["git", "commit", "-qam", "renamed by hand"], cwd=repo, check=True)
    assert Model("m", version="prod").number == 1
