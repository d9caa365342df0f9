"""Merge closure: two branches that each pass ``check --base`` from one base either conflict in git or merge
into a registry that passes ``check`` and in which every exclusive stage resolves.

Shared by the property test in the suite (tests/test_merge_closure.py) and the longer run of
benchmarks/merge_closure.py.  The operations are applied through gitreg's API on real branches of a real
repository, merged by git itself (``git merge``), and judged by gitreg's own check.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitreg import Client
from gitreg.errors import GitregError, VersionNotFoundError

MODELS = ("m", "n")
#: Findings a maintainer may accept deliberately, accepted here so that those operations take part too.
ACCEPTED = ("version-deleted", "model-deleted", "link-added", "stage-to-none")
VERSIONS = (1, 2, 3, 4)
STAGES = ("none", "staging", "production", "archived")
ALIASES = ("champion", "challenger")


@dataclass(frozen=True)
class Op:
    """One registry operation, by kind and arguments (printable, so a failing pair says what it was)."""

    kind: str
    args: tuple[Any, ...]

    def __str__(self) -> str:
        return f"{self.kind}{self.args}"

    def apply(self, client: Client) -> None:
        kind, a = self.kind, self.args
        if kind == "register":
            client.create_model_version(a[0], name=a[1])
        elif kind == "stage":
            client.update_model_version(a[0], a[1], stage=a[2], force=a[3])
        elif kind == "delete":
            client.delete_model_version(a[0], a[1])
        elif kind == "metadata":
            client.log_metadata(a[0], a[1], {a[2]: a[3]})
        elif kind == "link":
            client.save_artifact(a[0], a[1], a[2].encode(), a[2])
        elif kind == "new-model":
            client.create_model(a[0])
        elif kind == "delete-model":
            client.delete_model(a[0])
        elif kind == "card":
            client.update_model(a[0], description=a[1])
        elif kind == "alias":
            client.set_alias(a[0], a[2], a[1], force=a[3])
        elif kind == "unalias":
            client.delete_alias(a[0], a[1])
        elif kind == "register-promote":
            client.create_model_version(a[0])
            client.update_model_version(a[0], "latest", stage=a[1], force=True)
        else:
            raise AssertionError(kind)


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, check=check, capture_output=True, text=True)


def make_base(repo: Path) -> Client:
    """A registry with two models whose versions hold every stage: m v1 production, v2 staging, v3 none,
    v4 archived (v1 has an artifact), alias champion on v3; n v1 production, v2 none."""
    client = Client.init(repo)
    for _ in VERSIONS:
        client.create_model_version("m")
    client.save_artifact("m", 1, b"weights", "weights")
    client.update_model_version("m", 1, stage="production")
    client.update_model_version("m", 2, stage="staging")
    client.update_model_version("m", 4, stage="archived")
    client.create_model_version("n")
    client.create_model_version("n")
    client.update_model_version("n", 1, stage="production")
    client.set_alias("m", "champion", 3)
    git(repo, "branch", "-f", "base")
    return client


def run_pair(repo: Path, a: Op, b: Op) -> str:
    """Apply ``a`` on one branch and ``b`` on another, both from ``base``, merge them and judge the result.
    Returns "conflict", "merged" or "skipped" (a branch that does not pass ``check --base``: not a pair the
    property speaks of); raises AssertionError when a clean merge breaks the registry."""
    tags_before = set(git(repo, "tag", "-l").stdout.split())
    try:
        for branch, op in (("a", a), ("b", b)):
            git(repo, "checkout", "-q", "-f", "-B", branch, "base")
            client = Client(repo)
            try:
                op.apply(client)
            except GitregError:
                pass  # refused (e.g. a stage held, without force): the branch stays as the base
            report = client.check(base="base", allow=ACCEPTED)
            # each branch is written in a clone of its own: the other's tags are not there (they come after
            # the merge, from `gitreg tags sync`)
            made = set(git(repo, "tag", "-l").stdout.split()) - tags_before
            if made:
                git(repo, "tag", "-d", *sorted(made))
            if not report.ok:
                return "skipped"
        git(repo, "checkout", "-q", "-f", "a")
        merged = git(repo, "merge", "-q", "--no-edit", "b", check=False)
        if merged.returncode != 0:
            git(repo, "merge", "--abort", check=False)
            return "conflict"
        client = Client(repo)
        report = _check_without_tags(client)
        errors = [str(p) for p in report.problems if p.blocking]
        assert not errors, f"{a} | {b}: merged cleanly into a registry that fails check:\n" + "\n".join(errors)
        snap = client.registry.snapshot()
        for state in snap.models():
            for stage in ("production", "staging"):
                try:
                    state.resolve(stage)  # raises when a stage is claimed twice
                except VersionNotFoundError as exc:
                    assert "ambiguous" not in str(exc), f"{a} | {b}: {exc}"  # nobody holds it: fine
        return "merged"
    finally:
        git(repo, "checkout", "-q", "-f", "base")
        git(repo, "branch", "-q", "-D", "a", "b", check=False)
        made = set(git(repo, "tag", "-l").stdout.split()) - tags_before
        if made:
            git(repo, "tag", "-d", *sorted(made))


def _check_without_tags(client: Client) -> Any:
    # tags come after a pull request's merge (`gitreg tags sync`); the merge itself is what is judged here
    from gitreg.check import check

    return check(client.registry.repo, "HEAD", tags=False)


def same_model(op: Op, ops: list[Op]) -> list[Op]:
    """The operations of ``ops`` on the model ``op`` is about, whatever its case (the pairs most likely to
    collide)."""
    key = str(op.args[0]).lower() if op.args else None
    return [o for o in ops if o.args and str(o.args[0]).lower() == key] or ops


def op_catalogue() -> list[Op]:
    """Every operation of the property, over the base's models and versions."""
    ops: list[Op] = []
    for model in MODELS:
        ops += [Op("register", (model, None)), Op("register", (model, "candidate")),
                Op("card", (model, "reviewed")), Op("delete-model", (model,)),
                Op("register-promote", (model, "production")), Op("register-promote", (model, "staging"))]
        for number in VERSIONS if model == "m" else (1, 2):
            ops += [Op("delete", (model, number)), Op("metadata", (model, number, "accuracy", 0.9)),
                    Op("link", (model, number, "report"))]
            ops += [Op("stage", (model, number, stage, force)) for stage in STAGES for force in (False, True)]
            ops += [Op("alias", (model, number, alias, force)) for alias in ALIASES for force in (False, True)]
        ops += [Op("unalias", (model, alias)) for alias in ALIASES]
    # new models, two of them differing only in case (one folder on macOS and Windows)
    ops += [Op("new-model", ("o",)), Op("new-model", ("O",)), Op("register", ("O", None))]
    return ops
