"""The remembered report: a check's findings kept in the cache under the digest of everything they
depend on, and answered again, unchecked, while none of that changed.

The ``report-cache`` fast path (see :mod:`gitreg.fastpaths`): with its reference selected, nothing is
remembered and every check checks."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import TYPE_CHECKING

from ..state.cache import cache_get, cache_put
from ..state.validation import Problem
from .findings import CheckReport

if TYPE_CHECKING:
    from ..git import GitRepo

_REPORT_FORMAT = "check-report-2"  # 2: the path grammar, stages.yaml, link findings


def report_key(repo: GitRepo, commit: str, is_commit: bool, rev: str, tags: bool,
               listing: bytes) -> tuple[str, str]:
    """(cache slot, digest of every input) of the check of ``commit``.

    What a check finds depends only on git objects named by ids (the commit or tree checked; tag objects,
    their targets and what those commits changed), on the history of ``commit`` (reachability, deletions;
    a shallow clone's boundary and grafts are part of the input), and on the tags (``listing``: every tag,
    its object and target).  The slot is one per revision as written, so the cache holds one report per
    revision checked; the entry carries the digest of its inputs and is used only when that matches.
    """
    from ..version import __version__

    digest = hashlib.sha256(f"{_REPORT_FORMAT}\0{__version__}\0{commit}\0{is_commit}\0{rev}\0{tags}\0".encode())
    for extra in ("shallow", "info/grafts"):
        try:
            digest.update(extra.encode() + b"\0" + (repo.common_dir / extra).read_bytes() + b"\0")
        except OSError:
            pass
    digest.update(listing)
    slot = hashlib.sha1(f"{_REPORT_FORMAT}\0{rev}\0{tags}".encode()).hexdigest()
    return slot, digest.hexdigest()


def remembered_report(repo: GitRepo, slot: str, inputs: str) -> tuple[str, CheckReport] | None:
    """The (tag prefix, report) remembered for exactly ``inputs``, or None."""
    cached = cache_get(repo, slot, "report-cache")
    if not isinstance(cached, dict) or cached.get("inputs") != inputs:
        return None
    try:
        models, versions, n_tags, found = cached["report"]
        problems = tuple(Problem(**p) for p in found)
        prefix = cached["prefix"]
    except (KeyError, TypeError, ValueError):
        return None
    if not all(isinstance(n, int) for n in (models, versions, n_tags)) or not isinstance(prefix, str):
        return None
    return prefix, CheckReport(None, models, versions, n_tags, problems)


def remember_report(repo: GitRepo, slot: str, inputs: str, prefix: str, report: CheckReport) -> None:
    """Keep ``report`` (of the registry whose tag prefix is ``prefix``) for a later check with exactly ``inputs``."""
    cache_put(repo, slot, {"inputs": inputs, "prefix": prefix, "report": [
        report.models, report.versions, report.tags, [dataclasses.asdict(p) for p in report.problems]]}, "report-cache")
