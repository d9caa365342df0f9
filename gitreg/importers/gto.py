"""Read a GTO repository (its git tags and ``artifacts.yaml``) into an import :class:`~gitreg.importers.Plan`.

GTO's tags, as its documentation gives them (``gto register``, ``assign``, ``unassign``, ``deregister``,
``deprecate``), all annotated:

- ``NAME@vX.Y.Z`` registers version ``vX.Y.Z`` of artifact ``NAME`` at the commit it tags; ``NAME@vX.Y.Z!``
  deregisters it;
- ``NAME#STAGE#N`` assigns ``STAGE`` to the version registered at the commit it tags (``N``: a counter over
  all of that artifact's tags, which is what orders them); ``NAME#STAGE!#N`` unassigns it;
- ``NAME@deprecated#N`` deprecates the artifact;
- an artifact of a folder ``dir`` of a monorepo is ``dir:NAME``, spelled ``dir=NAME`` in tags, and described
  by ``dir/artifacts.yaml``.

What maps to what (docs/how-to/importing.md): each registration becomes a gitreg version numbered in
registration order and named by its GTO version (``v1.2.0``), authored by the tagger at the tag's time; the
tag message, commit, and the artifact's ``type``, ``path``, ``labels``, ``custom`` and ``description`` at
that commit go into metadata under ``gto``; ``prod``/``production`` -> production, ``staging``/``stage`` ->
staging (the last assignment wins, as ``gto show`` reads it), other stages are recorded as ``gto.aliases`` on
the version that holds them; unassigning or deregistering archives the version.  The artifact's bytes,
when committed at its path, are linked in place through a ``file://`` URI only when the repository's work
tree holds the same bytes; otherwise the path is recorded and the summary says why it was not linked.
Lightweight tags in GTO's format are not GTO's (GTO ignores them): each is listed in the summary.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import BareRepositoryError, GitregError, ImportSourceError, NotARegistryError
from ..git import GitRepo
from ..manifests.yaml_io import parse_yaml
from ..registry import Registry
from . import AliasState, Plan, SourceModel, SourceVersion, StageEvent, Step, Summary, Who, by_time, run_import

_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
_SEMVER = (r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?"
           r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?")
_TAG = re.compile(rf"^(?P<artifact>(?:[a-zA-Z0-9-_./]+=)?{_NAME})"
                  rf"(?:(?:#(?P<stage>{_NAME})|@(?P<version>v{_SEMVER}))(?P<cancel>!?)|@(?P<deprecated>deprecated))"
                  r"(?:#(?P<counter>[0-9]+))?$")
PRODUCTION = ("prod", "production")
STAGING = ("staging", "stage")


def _open(path: str) -> GitRepo:
    folder = Path(path).resolve()
    try:
        return GitRepo.discover(folder)
    except BareRepositoryError:
        return GitRepo(folder, folder, folder, bare=True)
    except NotARegistryError:
        raise ImportSourceError("gto", path,
                                f"{path} is not a git repository: give the path of a GTO repository") from None


def _who(tagger: str, date: str) -> Who:
    name, _sp, email = tagger.partition(" <")
    return Who(name.strip() or None, email.rstrip(">").strip(), datetime.fromisoformat(date))


def _artifact_info(repo: GitRepo, commit: str, artifact: str) -> dict[str, Any]:
    """What ``artifacts.yaml`` at ``commit`` says of ``artifact`` (``dir:name``: ``dir/artifacts.yaml``)."""
    folder, _colon, name = artifact.rpartition(":")
    path = f"{folder}/artifacts.yaml" if folder else "artifacts.yaml"
    blob = repo.read_blob(f"{commit}:{path}")
    if blob is None:
        return {}
    try:
        doc = parse_yaml(blob[1], path)
    except GitregError:
        return {}
    entry = doc.get(name) if isinstance(doc, Mapping) else None
    if not isinstance(entry, Mapping):
        return {}
    out = {k: entry[k] for k in ("type", "path", "description", "labels", "custom", "virtual") if k in entry}
    if folder and isinstance(out.get("path"), str):
        out["path"] = f"{folder}/{out['path']}"
    return out


def read_gto(path: str) -> Plan:
    """The plan of an import of every artifact of the GTO repository at ``path``."""
    repo = _open(path)
    notes: list[str] = []
    actions: dict[str, list[tuple[tuple[int, str], dict[str, Any]]]] = {}
    for ref in repo.list_refs("refs/tags/"):
        tag = ref.name[len("refs/tags/"):]
        match = _TAG.match(tag)
        if match is None:
            continue
        if ref.type != "tag":
            notes.append(f"{tag}: a lightweight tag in GTO's format; GTO reads only annotated tags, so it was skipped")
            continue
        artifact = match["artifact"].replace("=", ":")
        who = _who(ref.tagger, ref.date)
        counter = int(match["counter"]) if match["counter"] else 0
        event = {"tag": tag, "who": who, "commit": ref.target, "message": "\n".join(
            p for p in (ref.subject, ref.body) if p).strip(), **{k: match[k] for k in (
                "stage", "version", "cancel", "deprecated")}}
        # GTO orders an artifact's actions by its counter where the tag has one, else by time
        actions.setdefault(artifact, []).append(((counter, who.when.isoformat()), event))
    models: list[SourceModel] = []
    stages: list[StageEvent] = []
    aliases: list[AliasState] = []
    root = repo.root
    for artifact in sorted(actions):
        events = [e for _key, e in sorted(actions[artifact], key=lambda item: (
            item[1]["who"].when, item[0][0], _semver(item[1]["version"])))]
        registrations = [e for e in events if e["version"] and not e["cancel"]]
        if not registrations:
            notes.append(f"{artifact}: no version is registered (only stage tags), nothing to import")
            continue
        read: list[SourceVersion] = []
        by_commit: dict[str, str] = {}
        description = None
        labels: tuple[str, ...] = ()
        for number, reg in enumerate(registrations, 1):
            info = _artifact_info(repo, reg["commit"], artifact)
            by_commit.setdefault(reg["commit"], reg["version"])
            meta: dict[str, Any] = {"version": reg["version"], "commit": reg["commit"], "tag": reg["tag"]}
            if reg["message"]:
                meta["message"] = reg["message"]
            meta.update({k: v for k, v in info.items() if v is not None})
            if isinstance(info.get("description"), str) and info["description"]:
                description = info["description"]
            if isinstance(info.get("labels"), list):
                labels = tuple(str(x) for x in info["labels"])
            source, not_linked = _source(repo, root, reg["commit"], info)
            read.append(SourceVersion(
                id=f"{artifact}@{reg['version']}", number=number, name=reg["version"],
                description=info.get("description") if isinstance(info.get("description"), str) else None,
                tags=(), metadata={"gto": meta}, who=reg["who"], source_uri=source, not_linked=not_linked,
                origin={"version": reg["version"]}))
        from ..names import is_valid_name

        model_tags = tuple(x for x in labels if is_valid_name(x))
        models.append(SourceModel(name=artifact, description=description,
                                  tags=model_tags, who=registrations[0]["who"], versions=by_time(read)))
        stages.extend(_stage_events(artifact, events, by_commit, notes, aliases))
    return Plan("gto", str(root), tuple(models), tuple(stages), tuple(aliases), tuple(notes))


def _semver(version: str | None) -> tuple[int, ...]:
    """``v1.10.0`` -> (1, 10, 0): registrations made in the same second go in version order."""
    match = re.match(r"v(\d+)\.(\d+)\.(\d+)", version or "")
    return tuple(int(x) for x in match.groups()) if match else ()


def _mapped(stage: str) -> str | None:
    return "production" if stage in PRODUCTION else "staging" if stage in STAGING else None


def _stage_events(artifact: str, events: list[dict[str, Any]], by_commit: Mapping[str, str], notes: list[str],
                  aliases: list[AliasState]) -> list[StageEvent]:
    """gitreg's stage changes for one artifact's GTO actions, as GTO reads them: a stage belongs to the
    version whose assignment to it is the latest one still active (unassigning it hands the stage back to
    the version assigned before, if that assignment is active)."""
    active: dict[str, list[tuple[int, str]]] = {}   # GTO stage -> (order, version id) of active assignments
    current: dict[str, str] = {}                    # version id -> the gitreg stage the events so far gave it
    out: list[StageEvent] = []

    def holder(target: str) -> str | None:
        entries = [entry for stage, got in active.items() if _mapped(stage) == target for entry in got]
        return max(entries)[1] if entries else None

    def settle(e: dict[str, Any]) -> None:
        """Bring each version's gitreg stage in line with GTO's state after ``e`` (one stage per version in
        gitreg: a version GTO has in both production and staging is in production)."""
        prod, staging = holder("production"), holder("staging")
        desired = {prod: "production"} if prod is not None else {}
        if staging is not None and staging != prod:
            desired[staging] = "staging"
        for vid, stage in current.items():
            if stage in ("production", "staging") and vid not in desired:
                desired[vid] = "archived"
        for target in ("production", "staging", "archived"):
            for vid, stage in desired.items():
                if stage != target or current.get(vid) == stage:
                    continue
                if stage in ("production", "staging"):  # gitreg archives the version that held it
                    current.update({v: "archived" for v, s in current.items() if s == stage})
                current[vid] = stage
                out.append(StageEvent(artifact, vid, stage, e["who"], f"{e['tag']} {vid} {stage}",
                                      f"GTO {e['tag']}"))

    for order, e in enumerate(events):
        version = e["version"] or by_commit.get(e["commit"])
        if e["deprecated"]:
            notes.append(f"{artifact}: deprecated in GTO ({e['tag']}); its versions keep their stages")
            continue
        if version is None:
            if e["stage"]:
                notes.append(f"{e['tag']}: tags a commit where no version of {artifact} is registered; skipped")
            continue
        vid = f"{artifact}@{version}"
        if e["version"] and e["cancel"]:  # deregistered: its assignments end, and it is archived
            for got in active.values():
                got[:] = [entry for entry in got if entry[1] != vid]
            if current.get(vid) != "archived":
                current[vid] = "archived"
                out.append(StageEvent(artifact, vid, "archived", e["who"], f"{e['tag']} {vid} archived",
                                      f"GTO {e['tag']} (deregistered)"))
            settle(e)
            continue
        if not e["stage"]:
            continue
        got = active.setdefault(e["stage"], [])
        got[:] = [entry for entry in got if entry[1] != vid]
        if not e["cancel"]:
            got.append((order, vid))
        settle(e)
    prod, staging = holder("production"), holder("staging")
    if prod is not None and prod == staging:
        notes.append(f"{artifact}: {prod.rpartition('@')[2]} is in both a production and a staging stage in GTO;"
                     " a gitreg version has one stage: it is in production")
    held = {stage: max(got)[1] for stage, got in sorted(active.items()) if got and _mapped(stage) is None}
    if held:
        aliases.append(AliasState(artifact, "gto", held))
    return out


def _source(repo: GitRepo, root: Path, commit: str,
            info: Mapping[str, Any]) -> tuple[str | None, tuple[str, str] | None]:
    """(where the version's bytes can be linked in place, else (its path, why not)): a URI in ``path``, or the
    work tree's file when it holds the bytes the registration commit has."""
    where = info.get("path")
    if not isinstance(where, str) or not where:
        return None, None
    if "://" in where:
        return where, None
    committed = repo.resolve(f"{commit}:{where}")
    if committed is None:
        return None, (where, "not committed at the registration's commit (DVC or another tool keeps it?)")
    local = root / where
    if repo.bare or not local.is_file():
        return None, (where, "committed, but no file in the work tree to link in place")
    from ..git import blob_id

    if blob_id(local.read_bytes()) != committed:
        return None, (where, "the work tree holds other bytes than the registration's commit (a later version)")
    return local.as_uri(), None


def import_gto(registry: Registry, path: str, progress: Callable[[Step], None] | None = None,
               link_sources: bool = True) -> Summary:
    """Import every artifact of the GTO repository at ``path``."""
    return run_import(registry, read_gto(path), progress, link_sources)
