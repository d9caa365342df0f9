"""Git merges files, not invariants: the registry's format makes every invariant that spans files one line
that every change to it edits, so that any two branches that each pass ``check --base`` either conflict in
git or merge into a registry that passes ``check`` with every stage resolving (DESIGN.md)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merge_closure import Op, make_base, op_catalogue, run_pair, same_model

CATALOGUE = op_catalogue()


def test_two_promotions_of_one_stage_on_two_branches_conflict_in_git(hermetic: Path):
    # the case that broke production: two colleagues promoting on the same day, each pull request green
    make_base(hermetic)
    outcome = run_pair(hermetic, Op("stage", ("m", 3, "production", True)), Op("stage", ("m", 4, "production", True)))
    assert outcome == "conflict"


def test_a_promotion_and_an_unrelated_change_merge_cleanly(hermetic: Path):
    make_base(hermetic)
    assert run_pair(hermetic, Op("stage", ("m", 3, "production", True)),
                    Op("metadata", ("n", 2, "accuracy", 0.5))) == "merged"


def test_any_two_operations_conflict_or_merge_into_a_valid_registry(hermetic: Path):
    make_base(hermetic)
    seen: dict[str, int] = {}

    ops = st.sampled_from(CATALOGUE)
    pairs = ops.flatmap(lambda a: st.tuples(st.just(a), st.one_of(st.sampled_from(same_model(a, CATALOGUE)), ops)))

    @settings(max_examples=200, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(pairs)
    def pair(ab: tuple[Op, Op]) -> None:
        a, b = ab
        outcome = run_pair(hermetic, a, b)
        seen[outcome] = seen.get(outcome, 0) + 1

    pair()
    assert seen.get("merged", 0) > 10 and seen.get("conflict", 0) > 10, seen  # both sides of the property ran


def test_two_new_models_differing_only_in_case_conflict_in_git(hermetic: Path):
    make_base(hermetic)
    assert run_pair(hermetic, Op("new-model", ("o",)), Op("register", ("O", None))) == "conflict"


def test_pointing_an_alias_at_a_version_and_deleting_that_version_conflict_in_git(hermetic: Path):
    # stages.yaml alone would merge into an alias naming a deleted version: the version's `aliases` line is
    # the file both edit
    make_base(hermetic)
    assert run_pair(hermetic, Op("alias", ("m", 2, "challenger", False)), Op("delete", ("m", 2))) == "conflict"


def test_two_branches_moving_one_alias_conflict_in_git(hermetic: Path):
    make_base(hermetic)
    outcome = run_pair(hermetic, Op("alias", ("m", 1, "champion", True)), Op("alias", ("m", 4, "champion", True)))
    assert outcome == "conflict"


def test_two_different_aliases_on_two_versions_merge_or_conflict_never_break(hermetic: Path):
    make_base(hermetic)
    assert run_pair(hermetic, Op("alias", ("m", 1, "challenger", False)), Op("unalias", ("m", "champion"))) in (
        "merged", "conflict")
