"""Model folders validated in batches, by forked worker processes when there are many, with what each
folder found remembered by its tree (immutable) so that a later check reads only the folders that changed."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..layout import version_file
from ..state.cache import cache_get, cache_put, prefetch_model_trees
from ..state.validation import Problem, read_model_tree, stage_problems
from .links import link_findings

if TYPE_CHECKING:
    from ..git import GitRepo

_T = TypeVar("_T")

_SUMMARY_FORMAT = "check-models-3"  # 2: link findings (unknown formats, refused trusted types); 3: stages.yaml
_PREFETCH = 100  # model folders whose trees and manifests are asked for in one exchange


def model_summaries(repo: GitRepo, folders: list[tuple[str, str]],
                    meanwhile: Callable[[], _T] | None = None) -> tuple[dict[str, dict[str, Any]], _T | None]:
    """Model name -> what checking its folder found: problems, counter, valid numbers and exclusive stages.

    A folder's result depends only on its name and its tree (immutable), so results are kept in one
    compact cache entry for the whole registry; only folders not in it are read and validated, in
    batches (trees and manifests of many models per exchange with git).  Full documents are never
    held for more than one batch.  Many folders are validated by worker processes, and ``meanwhile`` (if
    given) runs here while they do; its result is returned with the summaries.
    """
    key = hashlib.sha1(_SUMMARY_FORMAT.encode()).hexdigest()
    cached = cache_get(repo, key)
    known: dict[str, Any] = cached if isinstance(cached, dict) else {}
    out: dict[str, dict[str, Any]] = {}
    fresh: dict[str, Any] = {}
    todo = []
    for name, oid in folders:
        entry = known.get(f"{name}/{oid}")
        if isinstance(entry, dict):
            out[name] = fresh[f"{name}/{oid}"] = entry
        else:
            todo.append((name, oid))
    batches = [todo[first:first + _PREFETCH] for first in range(0, len(todo), _PREFETCH)]
    workers = _workers(len(batches))
    result = None
    if workers > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(workers, _start_worker, (repo,)) as pool:
            parts = pool.imap(_summarize_in_worker, batches)
            result = meanwhile() if meanwhile is not None else None
            for names, summaries in parts:
                for (name, oid), summary in zip(names, summaries):
                    out[name] = fresh[f"{name}/{oid}"] = summary
    else:
        for batch in batches:
            for (name, oid), summary in zip(batch, _summarize(repo, batch)):
                out[name] = fresh[f"{name}/{oid}"] = summary
        result = meanwhile() if meanwhile is not None else None
    if todo or len(fresh) != len(known):
        cache_put(repo, key, fresh)
    return out, result


#: Model folders to validate before the work is shared by processes (one per core, at most four).
_PARALLEL_MIN_FOLDERS = 1000


def _workers(batches: int) -> int:
    """How many processes validate ``batches`` batches of model folders (1: this one)."""
    import multiprocessing
    import os
    import threading

    if batches * _PREFETCH < _PARALLEL_MIN_FOLDERS or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if threading.active_count() > 1:  # forking copies no other thread, but would copy the locks they hold
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, 4, batches))


_WORKER_REPO: GitRepo | None = None


def _start_worker(repo: GitRepo) -> None:
    """In a forked worker: its own reader of the repository (the parent's pipes stay the parent's)."""
    global _WORKER_REPO
    _WORKER_REPO = type(repo)(repo.root, repo.git_dir, repo.common_dir, repo.bare)


def _summarize_in_worker(batch: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    assert _WORKER_REPO is not None
    return batch, _summarize(_WORKER_REPO, batch)


def _summarize(repo: GitRepo, batch: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """What checking each ``(name, tree)`` folder of ``batch`` finds (their trees and manifests are asked
    for in three exchanges with git)."""
    from ..stages import EXCLUSIVE_STAGES

    prefetch_model_trees(repo, [oid for _n, oid in batch])
    out = []
    for name, oid in batch:
        found: list[Problem] = []
        read = read_model_tree(repo, name, oid, found)
        if read.readable:
            found += stage_problems(name, read)
        for doc in read.versions:  # errors of the check only: reads of the model are not refused for them
            found += link_findings(doc, version_file(name, doc["number"]))
        out.append({
            "problems": [dataclasses.asdict(p) for p in found],
            "counter": read.model["counters"]["versions"] if read.readable and read.model is not None else None,
            "numbers": [d["number"] for d in read.versions],
            "stages": {str(d["number"]): d["stage"] for d in read.versions if d["stage"] in EXCLUSIVE_STAGES},
            "has_stages_file": read.stages is not None,
            "count": read.count,
        })
    return out
