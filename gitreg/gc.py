"""Garbage collection of the artifact store: remove objects no manifest ever linked.

An object is kept if any version manifest or pipeline run manifest reachable from
any ref, the reflogs or the index links it (a run records the outputs of steps
that had no model too) (history stays loadable: ``git show models/iris/v3:...``), if
a pipeline run that is still alive stored it (its outputs are linked only when the
run ends, however long it takes: see :mod:`gitreg.pipelines.liveness`), or if it is younger than
a grace period (an upload whose link is not committed yet).  The markers of runs that
died are removed; their objects are then unreferenced ones like any other.

Order matters, for runs that end while gc works: the run markers are read first, then
the history, then the store is listed; the markers are read again before removing
anything and every few seconds while removing, and an object any reading protects is kept.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import GitregError
from .layout import MCP, MODELS_PATH
from .manifests import parse_yaml
from .pipelines.liveness import STALE_SECONDS, RunVerdict, forget, survey
from .registry import Registry

if TYPE_CHECKING:
    from .manifests import ArtifactLink
    from .store import ArtifactStore

_VERSION_PATH = re.compile(re.escape(MODELS_PATH) + r"/[^/]+/versions/[1-9][0-9]*\.yaml")
_SHA256 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
_RUN_PATH = re.compile(re.escape(MCP) + r"/runs/[^/]+\.yaml")


def _manifest_path(path: str) -> bool:
    return bool(_VERSION_PATH.fullmatch(path) or _RUN_PATH.fullmatch(path))


def _run_artifacts(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
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
    alive: int = 0             # unreferenced but stored by a pipeline run still alive: kept, whatever their age
    live_runs: tuple[str, ...] = ()   # ids of the runs seen alive
    dead_runs: tuple[str, ...] = ()   # ids of the runs that died: their markers removed (or that would be)


# (model, model version number, artifact name, artifact version): as a manifest says them, whatever their types
LinkId = tuple[object, object, object, object]


def _link_id(doc: dict[str, Any], link: dict[str, Any]) -> LinkId:
    if "model_version" in link:  # a run's record of an output
        return (link.get("model"), link.get("model_version"), link.get("name"), link.get("version"))
    return (doc.get("model"), doc.get("number"), link.get("name"), link.get("version"))


def referenced_hashes(registry: Registry, exclude: frozenset[LinkId] = frozenset()) -> set[str]:
    """sha256 of every stored (not external) artifact any manifest in history links
    (except the links ``exclude`` names, by model, version number, artifact name and version)."""
    repo = registry.repo
    repo.complete_clone()  # every manifest in history is read
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
            # A manifest gitreg refuses to read (invalid, hostile, or from before a limit) may
            # still be what some commit links: keep every hash it names, to be safe.
            hashes.update(_SHA256.findall((data or b"").decode("utf-8", "replace")))
            continue
        if not isinstance(doc, dict):
            continue
        for link in [*(doc.get("artifacts") or ()), *_run_artifacts(doc)]:
            if not isinstance(link, dict) or link.get("external") or not isinstance(link.get("sha256"), str):
                continue
            if exclude and _link_id(doc, link) in exclude:
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


MARKER_REFRESH_SECONDS = 5.0
"""While removing, the run markers are read again when the last reading is older than this."""


class _LiveRuns:
    """Every reading of the run markers during one collection, merged."""

    def __init__(self, store: ArtifactStore, stale_seconds: float) -> None:
        self.store = store
        self.stale_seconds = stale_seconds
        self.objects: set[str] = set()
        self.alive: dict[str, None] = {}
        self.latest: list[RunVerdict] = []
        self.read_at = 0.0
        self.read()

    def read(self) -> None:
        self.latest = survey(self.store, self.stale_seconds)
        self.read_at = time.monotonic()
        for verdict in self.latest:
            if verdict.alive:
                self.objects |= verdict.objects
                self.alive[verdict.run] = None

    def protects(self, sha: str | None, fresh: bool = False) -> bool:
        if fresh and time.monotonic() - self.read_at > MARKER_REFRESH_SECONDS:
            self.read()
        return sha is not None and sha in self.objects

    def dead(self) -> list[RunVerdict]:
        return [v for v in self.latest if not v.alive and v.run not in self.alive]


def collect(registry: Registry, dry_run: bool = True, grace_seconds: float = 3600.0,
            stale_seconds: float = STALE_SECONDS) -> GcReport:
    """Remove (or, with ``dry_run``, list) unreferenced store objects older than the grace period.

    Objects that a live pipeline run stored are kept whatever their age; a run whose
    marker has been silent for ``stale_seconds`` (and whose lock, on this machine, is free)
    is dead.
    """
    store = registry.store()
    runs = _LiveRuns(store, stale_seconds)
    keep = referenced_hashes(registry)
    entries = list(store.entries())
    runs.read()  # runs that stored their first output while the history was read
    cutoff = time.time() - grace_seconds
    kept = young = alive = freed = 0
    removed: list[str] = []
    for entry in entries:
        if entry.sha256 is not None and entry.sha256 in keep:
            kept += 1
            continue
        if runs.protects(entry.sha256):
            alive += 1
            continue
        if entry.modified is None or entry.modified > cutoff:
            young += 1
            continue
        if not dry_run and runs.protects(entry.sha256, fresh=True):
            alive += 1
            continue
        removed.append(entry.path)
        freed += entry.size
        if not dry_run:
            store.remove(entry.path)
    dead = runs.dead()
    if not dry_run:
        for verdict in dead:
            forget(store, verdict)
    return GcReport(len(keep), kept, young, tuple(removed), freed, dry_run, alive,
                    tuple(runs.alive), tuple(v.run for v in dead))


def remove_unshared(registry: Registry, model: str, number: int, links: list[ArtifactLink]) -> tuple[str, ...]:
    """Remove from the store the objects of ``links`` (just unlinked from ``model`` v``number``) that no
    other link in any manifest of the history uses and no running pipeline stored; returns their hashes.

    The history of those very links no longer loads afterwards (that is what was asked); everything
    else that shares the bytes (other versions, models, runs, branches) keeps loading.
    """
    gone = frozenset((model, number, a.name, a.version) for a in links)
    store = registry.store()
    runs = _LiveRuns(store, STALE_SECONDS)  # read once here, again before each removal when stale
    keep = referenced_hashes(registry, exclude=gone)
    wanted: list[str] = []
    for link in links:
        if link.external:
            continue
        if link.kind == "directory":
            try:
                wanted += store.directory_files(link.uri, link.sha256)
            except GitregError:
                pass  # listing already gone
        wanted.append(link.sha256)
    removed: list[str] = []
    for sha in dict.fromkeys(wanted):
        if sha in keep or runs.protects(sha, fresh=True) or not store.has(sha):
            continue
        store.remove_object(sha)
        removed.append(sha)
    return tuple(removed)
