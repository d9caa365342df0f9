"""Garbage collection of the artifact store: remove objects no manifest ever linked.

An object is kept if any version manifest or pipeline run manifest reachable from
any ref, the reflogs or the index links it (a run records the outputs of steps
that had no model too) (history stays loadable: ``git show models/iris/v3:...``), or
if it is younger than a grace period (an upload whose link is not committed yet).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from .errors import GitregError
from .manifests import parse_yaml
from .registry import Registry
from .state import MCP, MODELS_PATH

_VERSION_PATH = re.compile(re.escape(MODELS_PATH) + r"/[^/]+/versions/[1-9][0-9]*\.yaml")
_RUN_PATH = re.compile(re.escape(MCP) + r"/runs/[^/]+\.yaml")


def _manifest_path(path: str) -> bool:
    return bool(_VERSION_PATH.fullmatch(path) or _RUN_PATH.fullmatch(path))


def _run_artifacts(doc: dict) -> list[dict]:
    out: list[dict] = []
    for step in doc.get("steps") or ():
        if isinstance(step, dict):
            out += [o for o in step.get("outputs") or () if isinstance(o, dict)]
    return out


@dataclass(frozen=True)
class GcReport:
    referenced: int            # distinct hashes linked anywhere in history
    kept: int                  # store objects kept
    young: int                 # unreferenced but inside the grace period: kept too
    removed: tuple[str, ...]   # paths removed (or that would be, on a dry run)
    freed: int                 # bytes removed (or that would be)
    dry_run: bool


def referenced_hashes(registry: Registry) -> set[str]:
    """sha256 of every stored (not external) artifact any manifest in history links."""
    repo = registry.repo
    listing = repo.out("rev-list", "--all", "--reflog", "--objects")
    blobs = {line.split(" ", 1)[0] for line in listing.splitlines()
             if " " in line and _manifest_path(line.split(" ", 1)[1])}
    staged = repo.out("ls-files", "--stage", "--", MCP)
    blobs |= {line.split()[1] for line in staged.splitlines() if _manifest_path(line.split("\t")[-1])}
    hashes: set[str] = set()
    directories: list[tuple[str, str]] = []
    for data in repo.read_blobs(sorted(blobs)):
        try:
            doc = parse_yaml(data or b"", "manifest")
        except GitregError:
            continue  # an old, invalid manifest links nothing we can trust
        if not isinstance(doc, dict):
            continue
        for link in [*(doc.get("artifacts") or ()), *_run_artifacts(doc)]:
            if not isinstance(link, dict) or link.get("external") or not isinstance(link.get("sha256"), str):
                continue
            hashes.add(link["sha256"])
            if link.get("kind") == "directory" and isinstance(link.get("uri"), str):
                directories.append((link["uri"], link["sha256"]))
    store = registry.store()
    for uri, sha in directories:
        try:
            hashes.update(store.directory_files(uri, sha))
        except GitregError:
            continue  # listing already gone: its files are unreferenced
    return hashes


def collect(registry: Registry, dry_run: bool = True, grace_seconds: float = 3600.0) -> GcReport:
    """Remove (or, with ``dry_run``, list) unreferenced store objects older than the grace period."""
    keep = referenced_hashes(registry)
    store = registry.store()
    cutoff = time.time() - grace_seconds
    kept = young = freed = 0
    removed: list[str] = []
    for entry in store.entries():
        if entry.sha256 is not None and entry.sha256 in keep:
            kept += 1
            continue
        if entry.modified is None or entry.modified > cutoff:
            young += 1
            continue
        removed.append(entry.path)
        freed += entry.size
        if not dry_run:
            store.remove(entry.path)
    return GcReport(len(keep), kept, young, tuple(removed), freed, dry_run)
