"""Registered versions that disappeared: each must have been removed by gitreg's own delete (not by a
revert or a commit from a stale index), and no counter may fall below a registered number."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..layout import model_file, model_path, version_file
from ..state.validation import Problem
from ..tagnames import format_delete_subject, parse_delete_subject

if TYPE_CHECKING:
    from ..git import GitRepo
    from .folders import ModelFolder


def check_lost_versions(repo: GitRepo, commit: str, rev: str, prefix: str, models: dict[str, ModelFolder],
                        registered: dict[str, set[int]], problems: list[Problem]) -> None:
    """Registered versions (by their reachable tags) must be present, or deleted by gitreg; counters above them."""
    lost: list[tuple[str, int, str]] = []
    for model, numbers in sorted(registered.items()):
        state = models.get(model)
        present = state.numbers if state else frozenset()
        top = max(numbers)
        if state is not None and state.counter is not None and state.counter < top:
            problems.append(Problem(model_file(model), "counters.versions",
                                    f"is {state.counter} but {prefix}/{model}/v{top} registered v{top};"
                                    f" set it back to {top} (numbers are never reused; a revert or a commit from a"
                                    " stale index lowered it)", code="counter-lowered"))
        lost += [(model, n, f"{prefix}/{model}/v{n}") for n in sorted(numbers) if n not in present]
    if not lost:
        return
    # a manifest that is there but invalid is reported by the schema check, not here
    there = repo.read_blobs([f"{commit}:{version_file(m, n)}" for m, n, _t in lost])
    lost = [item for item, data in zip(lost, there) if data is None]
    if not lost:
        return
    deleted_by = _deletions(repo, commit, sorted({m for m, _n, _t in lost}))
    for model, number, tag in lost:
        path = version_file(model, number)
        found = deleted_by.get(path)
        if found is not None:
            sha, subject = found
            recorded = parse_delete_subject(subject)
            if recorded is not None and recorded.covers(model, number):
                continue
            how = (f"commit {sha[:12]} (\"{subject}\") removed it without gitreg's delete; restore it"
                   f" (`git checkout {sha[:12]}^ -- {path}`) and commit, or delete the version with"
                   f" `gitreg model version delete {model} {number}`")
        else:
            how = "no commit in its history removed it (was the tag made on another branch?)"
        problems.append(Problem(path, "", f"registration tag {tag} records v{number}, but the manifest is not at"
                                f" {rev}: {how}. gitreg's deletes read \"{format_delete_subject(model, number)}\"",
                                code="unrecorded-delete"))


def _deletions(repo: GitRepo, commit: str, models: list[str]) -> dict[str, tuple[str, str]]:
    """Path -> (commit, subject) of the newest commit in ``commit``'s history that deleted it (one git call)."""
    text = repo.out("log", "--diff-filter=D", "--no-renames", "--name-only", "--format=%x00%H%x1f%s", commit,
                    "--", *(model_path(m) for m in models))
    out: dict[str, tuple[str, str]] = {}
    for record in text.split("\0"):
        lines = record.strip("\n").splitlines()
        if not lines or "\x1f" not in lines[0]:
            continue
        sha, _, subject = lines[0].partition("\x1f")
        for path in lines[1:]:
            if path:
                out.setdefault(path, (sha, subject))
    return out
