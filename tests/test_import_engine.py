"""The import engine on plans made here: names equal but for case, numbers gitreg used already, and a
re-run that never undoes what was done in gitreg since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gitreg import Client
from gitreg.importers import Plan, SourceModel, SourceVersion, StageEvent, Who, run_import

T0 = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)


def _who(minutes: int, name: str | None = "Ada") -> Who:
    return Who(name, "ada@example.org" if name else "", T0 + timedelta(minutes=minutes))


def _version(model: str, n: int, minutes: int) -> SourceVersion:
    return SourceVersion(id=f"{model}/{n}", number=n, name=None, description=f"{model} {n}", tags=(),
                         metadata={"src": {"n": n}}, who=_who(minutes))


def test_names_equal_but_for_case_become_two_models(client: Client) -> None:
    plan = Plan("test", "here", (
        SourceModel("Iris", None, (), _who(0), (_version("Iris", 1, 1),)),
        SourceModel("iris", None, (), _who(2), (_version("iris", 1, 3),)),
    ))
    summary = run_import(client.registry, plan)
    names = sorted(m.name for m in client.list_models())
    assert len(names) == 2 and "Iris" in names
    assert summary.renamed == {"iris": next(n for n in names if n != "Iris")}
    again = run_import(client.registry, plan)  # the same mapping on every run
    assert again.renamed == summary.renamed and not again.changed
    assert client.check().ok


def test_numbers_gitreg_used_already_are_renumbered_and_reported(client: Client) -> None:
    client.create_model_version("iris")
    client.create_model_version("iris")  # v1 and v2 are gitreg's own
    plan = Plan("test", "here", (SourceModel("iris", None, (), _who(0),
                                             (_version("iris", 1, 1), _version("iris", 5, 2))),))
    summary = run_import(client.registry, plan)
    assert summary.renumbered == (("iris", "iris/1", 3),)
    assert [(v.number, v.metadata.get("imported", {}).get("id")) for v in client.list_model_versions("iris")] == \
        [(1, None), (2, None), (3, "iris/1"), (5, "iris/5")]
    assert client.check().ok


def test_a_rerun_never_undoes_a_stage_changed_in_gitreg_since(client: Client) -> None:
    versions = (_version("iris", 1, 1), _version("iris", 2, 2))
    plan = Plan("test", "here", (SourceModel("iris", None, (), _who(0), versions),),
                stages=(StageEvent("iris", "iris/1", "production", _who(3), "e1"),))
    run_import(client.registry, plan)
    assert client.get_model_version("iris", "production").number == 1
    client.update_model_version("iris", 2, stage="production", force=True)  # a promotion made in gitreg
    again = run_import(client.registry, plan)
    assert not again.changed
    assert client.get_model_version("iris", "production").number == 2
    author = client.registry.repo.out("log", "-1", "--format=%an %at", "models/iris/production/1")
    assert author == f"Ada {int((T0 + timedelta(minutes=3)).timestamp())}"


def test_one_timeline_and_a_stage_change_never_before_its_version(client: Client) -> None:
    versions = (_version("iris", 1, 1), _version("iris", 2, 5))
    plan = Plan("test", "here", (SourceModel("iris", None, (), _who(0), versions),), stages=(
        StageEvent("iris", "iris/1", "production", _who(3), "e1"),
        StageEvent("iris", "iris/2", "staging", _who(4), "e2"),  # the source's clock says: before v2 existed
    ))
    run_import(client.registry, plan)
    log = client.registry.repo.out("log", "--reverse", "--format=%s", "-n", "5").splitlines()
    assert log == ["iris: register model", "iris v1 registered", "iris v1 -> production", "iris v2 registered",
                   "iris v2 -> staging"]
    assert client.get_model_version("iris", "staging").number == 2
