"""Every pull request of the catalogue: what `gitreg check --base main --rev pr` fails on (exactly), what git
does with the merge, what `gitreg check` then says on main, and what a deploy from a fresh clone loads."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .catalogue import CATALOGUE, PullRequest
from .harness import Workspace, blocking, check_codes, deploy, gitreg_cli, merge


@pytest.mark.parametrize("pr", CATALOGUE, ids=str)
def test_a_pull_request(pr: PullRequest, workspace: Callable[[str], Workspace]) -> None:
    ws = workspace(pr.store)
    tags_before = set(ws.git("tag", "-l").split())
    pr.make(ws)
    assert ws.git("rev-parse", "--abbrev-ref", "HEAD") == "pr"
    # gitreg's writes tag their commits; a pull request carries its branch only (tags follow the merge)
    made = set(ws.git("tag", "-l").split()) - tags_before - set(ws.kept_tags)
    if made:
        ws.git("tag", "-d", *sorted(made))

    for branch in pr.merged_first:  # each green alone
        code, problems = check_codes(ws.reg, "--base", "main", "--rev", branch)
        assert (code, blocking(problems)) == (0, set()), problems
    code, problems = check_codes(ws.reg, "--base", "main", "--rev", "pr")
    assert blocking(problems) == set(pr.blocking), [f"{p['code']}: {p['path']}: {p['message']}" for p in problems]
    assert code == (14 if pr.blocking else 0)
    assert not ws.marker.exists()

    ws.git("checkout", "-q", "main")
    for branch in pr.merged_first:
        assert merge(ws.reg, branch), f"{branch} conflicts"
    assert merge(ws.reg, "pr") == (not pr.conflicts)
    # after a merge, CI on main tags what it brought (`gitreg tags sync`) and checks the branch with its tags
    gitreg_cli(ws.reg, "tags", "sync")
    code, problems = check_codes(ws.reg)
    assert blocking(problems) == set(pr.after_merge), [f"{p['code']}: {p['path']}: {p['message']}"
                                                       for p in problems]
    deploy(ws, pr.deploy)


def test_the_catalogue_names_known_codes_and_honest_cases() -> None:
    from gitreg.check import FINDINGS

    names = [pr.name for pr in CATALOGUE]
    assert len(names) == len(set(names))
    for pr in CATALOGUE:
        assert pr.blocking | pr.after_merge <= set(FINDINGS), pr.name
        assert not {c for c in pr.blocking | pr.after_merge if FINDINGS[c].warning}, pr.name
        assert not pr.conflicts or pr.merged_first, pr.name
    honest = [pr for pr in CATALOGUE if not pr.blocking and not pr.after_merge and not pr.conflicts]
    assert len([pr for pr in honest if pr.name.startswith("honest-")]) >= 3
