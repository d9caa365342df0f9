"""--force says which version it moved to archived: on the command line, and in what the Python API returns."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitreg import Model
from gitreg.cli.app import main
from gitreg.errors import StageConflictError
from gitreg.manifests import UpdatedVersion, VersionManifest

STAGES = ["none", "staging", "production", "archived"]


def test_the_cli_names_the_version_it_archived(client, capsys):
    for _ in range(3):
        client.create_model_version("churn")
    client.update_model_version("churn", 2, stage="production")
    assert main(["model", "version", "update", "churn", "3", "--stage", "production", "--force"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["churn v3: none -> production", "moved churn version 2 from production to archived"]
    assert main(["model", "version", "update", "churn", "1", "--stage", "staging"]) == 0
    assert "archived" not in capsys.readouterr().err  # nothing was moved: nothing said


def test_the_returned_version_is_the_manifest_and_says_what_was_archived(client):
    for _ in range(2):
        client.create_model_version("churn")
    first = client.update_model_version("churn", 1, stage="production")
    assert first.archived_versions == ()
    second = client.update_model_version("churn", 2, stage="production", force=True)
    assert isinstance(second, VersionManifest) and isinstance(second, UpdatedVersion)
    assert second.archived_versions == (1,)
    stored = client.get_model_version("churn", 2)
    assert second == stored and stored == second and second.as_manifest() == stored  # as before: equal
    assert second.to_dict() == stored.to_dict()  # never written to the manifest
    assert client.get_model_version("churn", 1).stage == "archived"
    assert client.update_model_version("churn", 2, description="d").archived_versions == ()


def test_set_stage_returns_the_archived_versions(client):
    for _ in range(2):
        client.create_model_version("churn")
    assert Model("churn", version=1).set_stage("staging") == ()
    assert Model("churn", version=2).set_stage("staging", force=True) == (1,)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.tuples(st.integers(1, 4), st.sampled_from(STAGES), st.booleans()), min_size=1,
                      max_size=6))
def test_archived_versions_are_exactly_the_versions_the_commit_archived(client, moves):
    model = f"m{abs(hash(tuple(moves))) % 10**9}"
    for _ in range(4):
        client.create_model_version(model)
    for number, stage, force in moves:
        before = {v.number: v.stage for v in client.list_model_versions(model)}
        try:
            updated = client.update_model_version(model, number, stage=stage, force=force)
        except StageConflictError:
            assert not force
            continue
        after = {v.number: v.stage for v in client.list_model_versions(model)}
        archived = tuple(n for n in sorted(after) if n != number and before[n] != "archived" and after[n] == "archived")
        assert updated.archived_versions == archived
        assert all(before[n] == stage for n in archived)
        assert updated.stage == after[number] == stage
