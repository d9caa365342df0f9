"""Imports of another registry's history: an MLflow model registry (:mod:`.mlflow`), a GTO repository
(:mod:`.gto`).

A reader turns the source into a :class:`Plan`: its models, each version with its original author and time,
and the stage assignments, all in the source's order.  :func:`run_import` replays the plan as gitreg writes,
one commit per event, each authored by the event's original author at its original time (the committer is
whoever runs the import).  Every imported version records where it came from in its metadata
(``imported: {source, id, ...}``), so a second run (or a run after a killed one) skips what is there and
imports only what is new; stage assignments are brought to the source's state, which is idempotent too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .. import operations as ops
from ..errors import GitregError, InvalidNameError
from ..git import Author
from ..git.network import redact
from ..layout import version_file
from ..manifests import ArtifactLink, VersionManifest
from ..names import MAX_LENGTH, is_valid_name
from ..registry import Change, Registry
from ..state import Snapshot

#: The metadata key under which an imported version records its origin.
IMPORTED = "imported"


@dataclass(frozen=True)
class Who:
    """An original author (email may be empty) and the time of an event."""

    name: str | None
    email: str
    when: datetime


@dataclass(frozen=True)
class SourceVersion:
    id: str                          # stable across runs: what a re-run recognises
    number: int | None               # the number to keep, when the source numbers its versions
    name: str | None                 # a version name to keep (GTO's v1.2.0), when there is one
    description: str | None
    tags: tuple[str, ...]            # gitreg tags (valid names)
    metadata: Mapping[str, Any]      # what the source says beyond that (e.g. {"mlflow": {...}})
    who: Who                         # who registered it, when
    source_uri: str | None = None    # where its bytes are: linked in place (external) if readable
    not_linked: tuple[str, str] | None = None  # (where, why) when the reader knows its bytes cannot be linked
    artifact_name: str = "model"
    origin: Mapping[str, Any] = field(default_factory=dict)  # extra keys for metadata.imported


@dataclass(frozen=True)
class StageEvent:
    """Version ``version_id`` of ``model`` enters gitreg's ``stage`` (archived, staging, production)."""

    model: str          # the original model name
    version_id: str
    stage: str
    who: Who
    id: str             # stable across runs: recorded in the stage tag's message, what a re-run recognises
    note: str = ""      # why, in the commit message (e.g. "MLflow stage Production")


@dataclass(frozen=True)
class AliasState:
    """The aliases each version of a model holds in the source (recorded in metadata: see the docs)."""

    model: str
    key: str                                        # the metadata group, e.g. "mlflow"
    aliases: Mapping[str, str]                      # alias -> version id


@dataclass(frozen=True)
class SourceModel:
    name: str                        # as the source spells it
    description: str | None
    tags: tuple[str, ...]            # gitreg model tags (valid names)
    who: Who                         # when (and by whom, if known) it was created
    versions: tuple[SourceVersion, ...]


@dataclass(frozen=True)
class Plan:
    source: str                      # "mlflow" or "gto"
    location: str                    # the source's URI or path (no credentials)
    models: tuple[SourceModel, ...]
    stages: tuple[StageEvent, ...] = ()
    aliases: tuple[AliasState, ...] = ()
    notes: tuple[str, ...] = ()      # what the reader had to decide (e.g. two versions in Production)


@dataclass(frozen=True)
class Step:
    """One event done (or skipped), for progress."""

    done: int
    total: int
    what: str
    skipped: bool


@dataclass(frozen=True)
class Summary:
    source: str
    location: str
    models_created: tuple[str, ...]
    versions_imported: tuple[tuple[str, str, int], ...]   # (gitreg model, source version id, gitreg number)
    versions_skipped: int                                 # already imported by an earlier run
    stage_changes: tuple[tuple[str, int, str], ...]       # (model, number, stage)
    alias_changes: tuple[tuple[str, int], ...]            # (model, number) whose alias record changed
    renamed: Mapping[str, str]                            # original model name -> gitreg name
    renumbered: tuple[tuple[str, str, int], ...]          # (model, source version, gitreg number) when they differ
    unlinked: tuple[tuple[str, int, str, str], ...]       # (model, number, source uri, why) not linked
    notes: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.models_created or self.versions_imported or self.stage_changes or self.alias_changes)


# ---------------------------------------------------------------- names

_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def gitreg_name(original: str) -> str:
    """A valid gitreg name for ``original``, always the same: ``original`` itself when valid, else each run of
    other characters as ``-`` (and what a name must not start or end with, or hold twice, trimmed), followed by
    ``-`` and six hex digits of the original's hash, so that two originals never meet."""
    if is_valid_name(original):
        return original
    digest = hashlib.sha256(original.encode("utf-8")).hexdigest()[:6]
    base = _BAD.sub("-", original)
    base = re.sub(r"\.{2,}", ".", base).strip("._-")
    if base.lower().endswith(".lock"):
        base = base[: -len(".lock")]
    base = base.rstrip("._-")[: MAX_LENGTH - 7].rstrip("._-")
    candidate = f"{base}-{digest}" if base else f"model-{digest}"
    return candidate if is_valid_name(candidate) else f"model-{digest}"


# ---------------------------------------------------------------- the run

def _fallback(registry: Registry) -> tuple[str, str]:
    ident = registry.repo.identity()
    name, _sp, email = ident.partition(" <")
    return name, email.rstrip(">")


def _author(who: Who, fallback: tuple[str, str]) -> Author:
    name = who.name or fallback[0]
    email = who.email if who.name else (who.email or fallback[1])
    try:
        return Author(name, email, who.when)
    except GitregError:  # a name git cannot record: the importing user's, at the original time
        return Author(fallback[0], fallback[1], who.when)


def stamp(when: datetime) -> str:
    """A manifest's ``created`` for ``when``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _imported_index(snap: Snapshot, source: str) -> dict[str, tuple[str, int]]:
    """source version id -> (gitreg model, number) of every version imported from ``source`` before."""
    found: dict[str, tuple[str, int]] = {}
    for state in snap.models():
        for version in state.versions:
            origin = version.metadata.get(IMPORTED)
            if isinstance(origin, Mapping) and origin.get("source") == source and isinstance(origin.get("id"), str):
                found[origin["id"]] = (state.name, version.number)
    return found


def _aliases_logged(model: str, number: int, key: str, aliases: list[str],
                    source: str) -> Callable[[Snapshot], Change | None]:
    def build(snap: Snapshot) -> Change | None:
        return ops.log_metadata(snap, model, number, {key: {"aliases": aliases}},
                                reason=f"imported from {source}: aliases")
    return build


def _done_events(snap: Snapshot, model: str, source: str) -> set[str]:
    """The ids of the stage events imported from ``source`` that the stage tags of ``model`` record."""
    done = set()
    for ref in snap.repo.list_refs(f"refs/tags/{snap.config.tag_prefix}/{model}/"):
        for line in ref.body.splitlines():
            if line.startswith(f"reason: imported from {source}: ") and line.endswith("]"):
                _before, found, event = line[:-1].rpartition(" [event ")
                if found:
                    done.add(event)
    return done


def _model_names(plan: Plan, snap: Snapshot, index: Mapping[str, tuple[str, int]]) -> dict[str, str]:
    """Original model name -> gitreg model name: where earlier runs put it, else :func:`gitreg_name`; a name
    equal but for case to another model's (one folder on a case-insensitive file system, which gitreg
    refuses) gets the hash suffix too."""
    out: dict[str, str] = {}
    taken = {name.casefold(): name for name in snap.model_names()}
    for model in plan.models:
        earlier = next((index[v.id][0] for v in model.versions if v.id in index), None)
        if earlier is not None:
            out[model.name] = earlier
            taken[earlier.casefold()] = earlier
    for model in plan.models:
        if model.name in out:
            continue
        name = gitreg_name(model.name)
        if taken.get(name.casefold(), name) != name or name in out.values():
            name = gitreg_name(model.name + "\0")  # never a valid name: always mapped, with its own hash
        out[model.name] = name
        taken[name.casefold()] = name
    return out


def run_import(registry: Registry, plan: Plan, progress: Callable[[Step], None] | None = None,
               link_sources: bool = True) -> Summary:
    """Replay ``plan`` into ``registry`` (see the module's docs); ``progress`` is told of each event."""
    snap = registry.snapshot()
    index = _imported_index(snap, plan.source)
    names = _model_names(plan, snap, index)
    fallback = _fallback(registry)
    events: list[tuple[datetime, int, Callable[[], bool], str]] = []
    created: list[str] = []
    imported: list[tuple[str, str, int]] = []
    renumbered: list[tuple[str, str, int]] = []
    unlinked: list[tuple[str, int, str, str]] = []
    stage_changes: list[tuple[str, int, str]] = []
    alias_changes: list[tuple[str, int]] = []
    done_events: dict[str, set[str]] = {}  # gitreg model -> ids of the stage events its tags record
    skipped = 0

    def model_event(model: SourceModel) -> Callable[[], bool]:
        target = names[model.name]

        def run() -> bool:
            def build(s: Snapshot) -> Change | None:
                if s.model(target) is not None:
                    return None
                change = ops.create_model(s, target, {"description": model.description}, model.tags,
                                          reason=f"imported from {plan.source}: {model.name}",
                                          created=stamp(model.who.when))
                change.author = _author(model.who, fallback)
                return change

            done = registry.transact(build, scope=target).commit is not None
            if done:
                created.append(target)
            return done
        return run

    def version_event(model: SourceModel, version: SourceVersion) -> Callable[[], bool]:
        target = names[model.name]

        def run() -> bool:
            nonlocal skipped
            if version.id in index:
                skipped += 1
                return False
            link: ArtifactLink | None = None
            why_unlinked = ""
            if version.source_uri and link_sources:
                from ..artifacts import describe_uri

                try:
                    link = describe_uri(registry, version.source_uri, version.artifact_name, "model")
                except GitregError as exc:
                    why_unlinked = str(exc).splitlines()[0]
            origin = {"source": plan.source, "id": version.id, "model": model.name, **version.origin}
            meta = {**version.metadata, IMPORTED: origin}
            if version.source_uri:
                meta[IMPORTED] = {**origin, "source_uri": redact(version.source_uri)}

            def build(s: Snapshot) -> Change:
                state = s.model(target)
                used = [state.model.counters.versions, *ops.registered_numbers(s, target)] if state else \
                    ops.registered_numbers(s, target)
                after = max([0, *used]) + 1
                number = version.number if version.number is not None and version.number >= after else None
                name = version.name
                if name is not None:
                    try:
                        ops.validate_version_name(name)
                    except InvalidNameError:
                        name = None
                    if name is not None and state is not None and state.by_name(name) is not None:
                        name = None
                change = ops.register_version(s, target, name=name, description=version.description,
                                              tags=version.tags, metadata=meta,
                                              reason=f"imported from {plan.source}: {model.name} {version.id}",
                                              number=number, created=stamp(version.who.when),
                                              card={"description": model.description}, model_tags=model.tags)
                registered: VersionManifest = change.result
                if link is not None:
                    registered = replace(registered, artifacts=(replace(link, created=registered.created),))
                    change.files[version_file(target, registered.number)] = ops.version_bytes(registered)
                    change.result = registered
                change.author = _author(version.who, fallback)
                return change

            result: VersionManifest = registry.transact(build, scope=target).result
            index[version.id] = (target, result.number)
            imported.append((target, version.id, result.number))
            if version.number != result.number:
                renumbered.append((target, version.id, result.number))
            if why_unlinked and version.source_uri:
                unlinked.append((target, result.number, version.source_uri, why_unlinked))
            elif version.not_linked is not None:
                unlinked.append((target, result.number, *version.not_linked))
            return True
        return run

    def stage_event(event: StageEvent) -> Callable[[], bool]:
        target = names.get(event.model, gitreg_name(event.model))

        def run() -> bool:
            where = index.get(event.version_id)
            if where is None:
                return False

            def build(s: Snapshot) -> Change | None:
                state = s.require(target)
                version = state.by_number(where[1])
                if target not in done_events:
                    done_events[target] = _done_events(s, target, plan.source)
                if version is None or version.stage == event.stage or event.id in done_events[target]:
                    return None  # done by an earlier run: an import never undoes what was done since
                note = f"imported from {plan.source}: {event.note or event.stage} [event {event.id}]"
                change = ops.update_version(s, target, where[1], stage=event.stage, force=True, reason=note)
                if change is not None:
                    change.author = _author(event.who, fallback)
                return change

            done = registry.transact(build, scope=target).commit is not None
            if done:
                stage_changes.append((target, where[1], event.stage))
                done_events.setdefault(target, set()).add(event.id)
            return done
        return run

    def alias_event(state_of: AliasState) -> Callable[[], bool]:
        target = names.get(state_of.model, gitreg_name(state_of.model))

        def run() -> bool:
            changed = False
            held: dict[int, list[str]] = {}
            for alias, vid in sorted(state_of.aliases.items()):
                if vid in index:
                    held.setdefault(index[vid][1], []).append(alias)
            snap_now = registry.snapshot()
            model_state = snap_now.model(target)
            if model_state is None:
                return False
            for version in model_state.versions:
                group = version.metadata.get(state_of.key)
                have = list(group.get("aliases") or []) if isinstance(group, Mapping) else []
                want = held.get(version.number, [])
                imported_here = isinstance(version.metadata.get(IMPORTED), Mapping)
                if have == want or (not imported_here and not want):
                    continue
                number = version.number
                registry.transact(_aliases_logged(target, number, state_of.key, want, plan.source), scope=target)
                alias_changes.append((target, number))
                changed = True
            return changed
        return run

    # One timeline: models, versions and stage changes by time (a stage change never before its version's
    # registration, and at equal times after every registration, in the order the reader gave); aliases last.
    registered_at: dict[str, datetime] = {}
    for model in plan.models:
        events.append((model.who.when, 0, model_event(model), f"model {model.name}"))
        for version in model.versions:
            registered_at[version.id] = version.who.when
            events.append((version.who.when, 1, version_event(model, version),
                           f"{model.name} {version.id.rsplit('/', 1)[-1]}"))
    for event in plan.stages:
        when = max(event.who.when, registered_at.get(event.version_id, event.who.when))
        events.append((when, 2, stage_event(event), f"{event.model}: {event.stage}"))
    events.sort(key=lambda e: (e[0], e[1]))  # stable: the reader's order within a group at equal times
    steps = [(run, what) for _when, _group, run, what in events]
    for aliases in plan.aliases:
        steps.append((alias_event(aliases), f"{aliases.model}: aliases"))
    for i, (run, what) in enumerate(steps, 1):
        did = run()
        if progress is not None:
            progress(Step(i, len(steps), what, not did))
    renamed = {m.name: names[m.name] for m in plan.models if names[m.name] != m.name}
    return Summary(plan.source, plan.location, tuple(created), tuple(imported), skipped, tuple(stage_changes),
                   tuple(alias_changes), renamed, tuple(renumbered), tuple(unlinked), plan.notes)


def by_time(items: Iterable[SourceVersion]) -> tuple[SourceVersion, ...]:
    return tuple(sorted(items, key=lambda v: v.who.when))


__all__ = ["AliasState", "IMPORTED", "Plan", "SourceModel", "SourceVersion", "StageEvent", "Step", "Summary", "Who",
           "by_time", "gitreg_name", "run_import", "stamp"]
