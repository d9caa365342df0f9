"""Pipeline runs in the registry: what a run records, and the commits that record it.

A version the run creates is registered when the run (or the step that first uses it)
starts: :func:`register_versions` is that commit, with the registration tags, so the
version exists with its number while the run goes on.  Artifact bytes go to the store as
they are produced; everything else (metadata, artifact links, the run itself) waits in
a :class:`PendingRun`.  When the run ends, completed or failed, :func:`record_run` turns
it into one commit: a pure function of the branch head, so a lost race simply recounts
artifact versions on the new head.  The run's manifest is ``.mcp/runs/<id>.yaml``
(schema ``run``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import NotFoundError, PipelineError, VersionNotFoundError
from ..layout import MCP, NAMES_PATH, model_path, version_file
from ..manifests import (
    ArtifactLink,
    ModelManifest,
    VersionManifest,
    check_json_value,
    dump_yaml,
    merge_metadata,
    now,
    now_precise,
    validate,
    within_limit,
)
from ..operations import (
    check_case_clash,
    claim_bytes,
    model_bytes,
    new_model,
    next_number,
    reason_line,
    registered_numbers,
    validate_version_name,
    version_bytes,
)
from ..registry import Change
from ..state import Snapshot
from ..tagnames import format_version_message, format_version_tag

RUNS_PATH = f"{MCP}/runs"


def run_file(run_id: str) -> str:
    return f"{RUNS_PATH}/{run_id}.yaml"


# ---------------------------------------------------------------- pending state (mutable, during a run)

@dataclass
class Slot:
    """A model version a run uses or produces; a new one is registered when the run (or the first
    step that uses it) starts."""

    model: str
    number: int | None                 # None only until a new version is registered
    new: bool = False                  # the run is to register it (if a name: unless it exists by then)
    created: bool = False              # the run registered it
    version_name: str | None = None    # a new version's name (None: its number)
    card: dict[str, Any] = field(default_factory=dict)
    model_tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    links: list[Output] = field(default_factory=list)
    consumed: bool = False             # only loaded from: the run is recorded on it if it is still there


@dataclass
class Output:
    """An artifact stored during the run (bytes already in the store), linked when the run is recorded."""

    link: ArtifactLink                 # its version is assigned when recorded
    slot: Slot | None                  # the model version it belongs to (None: the step had no model)
    step: str | None
    version: int | None = None         # the artifact version asked for (ArtifactConfig(version=)), else the next
    tags: tuple[str, ...] = ()         # ArtifactConfig(tags=): kept in the run record


@dataclass
class PendingStep:
    name: str
    started: str
    slot: Slot | None
    status: str = "running"
    ended: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Output] = field(default_factory=dict)
    outputs: list[Output] = field(default_factory=list)
    error: str | None = None


@dataclass
class PendingRun:
    id: str
    pipeline: str
    started: str
    parameters: dict[str, Any]
    code_commit: str | None
    code_dirty: bool
    slots: list[Slot] = field(default_factory=list)
    steps: list[PendingStep] = field(default_factory=list)
    status: str = "running"
    ended: str | None = None
    error: str | None = None


# ---------------------------------------------------------------- the record (immutable, after validation)

@dataclass(frozen=True)
class RunManifest:
    """A recorded run, as read back from ``.mcp/runs/<id>.yaml``."""

    id: str
    pipeline: str
    status: str
    started: str
    ended: str
    parameters: Any
    code_commit: str | None
    code_dirty: bool
    error: str | None
    models: tuple[tuple[str, int, bool], ...]   # (model, version, created by this run)
    steps: tuple[Any, ...]                      # the step records, as in the file
    doc: Any = None                             # the whole validated document

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> RunManifest:
        return cls(doc["id"], doc["pipeline"], doc["status"], doc["started"], doc["ended"], doc["parameters"],
                   doc["code"]["commit"], doc["code"]["dirty"], doc.get("error"),
                   tuple((m["name"], m["version"], m["created"]) for m in doc["models"]),
                   tuple(doc["steps"]), doc)


# ---------------------------------------------------------------- recording: snapshot in, Change out

@dataclass(frozen=True)
class Recorded:
    numbers: dict[int, int]            # id(slot) -> version number
    created: frozenset[int] = frozenset()  # id(slot) of the versions registered


def _art_counters(state: Any, model: str, into: dict[tuple[str, str], int]) -> None:
    for name, version in (state.artifact_versions if state is not None else {}).items():
        key = (model, name)
        into[key] = max(into.get(key, 0), version)


def register_versions(snap: Any, run: PendingRun, slots: list[Slot]) -> Change:
    """The commit at the start of a run (or of the first step using a step's own new model version)
    that registers the versions ``slots`` stand for, with their registration tags, marked as
    ``created_by_run: {id, status: running}``.  A slot naming a version another writer created
    meanwhile takes that version instead (and the run did not create it)."""
    files: dict[str, bytes | None] = {}
    tags: list[tuple[str, str]] = []
    numbers: dict[int, int] = {}
    models: dict[str, ModelManifest] = {}
    by = snap.repo.identity()
    prefix = snap.config.tag_prefix
    made: list[str] = []
    created: set[int] = set()
    for slot in slots:
        state = snap.model(slot.model)
        if slot.model not in models:
            if state is None:
                check_case_clash(snap, slot.model)
                models[slot.model] = new_model(slot.model, slot.card, slot.model_tags)
                files.update(claim_bytes(slot.model))
            else:
                models[slot.model] = state.model
        named = state.by_name(slot.version_name) if state is not None and slot.version_name else None
        if named is not None:  # another writer created that name meanwhile: use it
            numbers[id(slot)] = named.number
            continue
        card = models[slot.model]
        number = next_number(slot.model, [card.counters.versions, *registered_numbers(snap, slot.model)])
        name = slot.version_name or str(number)
        if slot.version_name:
            validate_version_name(slot.version_name)
        models[slot.model] = replace(card, counters=replace(card.counters, versions=number))
        # As in ZenML (and Model outside a run), the version gets the Model's description and tags too.
        version = VersionManifest(model=slot.model, number=number, name=name, created=run.started[:19] + "Z",
                                  description=slot.card.get("description"), tags=tuple(slot.model_tags),
                                  created_by_run=run.id, run_status="running")
        files[version_file(slot.model, number)] = version_bytes(version)
        message = format_version_message(slot.model, number, name, by, f"pipeline run {run.id}")
        if snap.config.registration_tags:
            tags.append((format_version_tag(prefix, slot.model, number), message))
        numbers[id(slot)] = number
        created.add(id(slot))
        made.append(f"{slot.model} v{number}")
    for name, card in models.items():
        state = snap.model(name)
        if state is None or state.model != card:
            files[f"{model_path(name)}/model.yaml"] = model_bytes(card)
    message = (f"run {run.id}: {run.pipeline} started ({', '.join(made)})\n\n"
               f"pipeline: {run.pipeline}\nrun: {run.id}\nstatus: running\nstarted: {run.started}\n"
               "Its outputs, metadata and record follow in one commit when the run ends.\n")
    paths = {model_path(s.model) for s in slots} | {p for p in files if p.startswith(NAMES_PATH + "/")}
    return Change(message=message, files=files, tags=tags, paths=sorted(paths),
                  result=Recorded(numbers, frozenset(created)))


def record_run(snap: Any, run: PendingRun) -> Change:
    """The commit that records ``run`` when it ends: metadata, links, the run manifest, and the
    final status of the versions it registered when it started."""
    files: dict[str, bytes | None] = {}
    art_versions: dict[int, int] = {}
    versions: dict[tuple[str, int], VersionManifest] = {}
    used_art: dict[tuple[str, str], int] = {}
    counted: set[str] = set()
    numbers: dict[int, int] = {}  # id(slot) -> version number
    for slot in run.slots:
        if slot.number is None:
            raise PipelineError(f"{slot.model}: the version of run {run.id} was never registered")
        numbers[id(slot)] = slot.number
        state = snap.model(slot.model)
        if slot.model not in counted:
            _art_counters(state, slot.model, used_art)
            counted.add(slot.model)
        key = (slot.model, slot.number)
        if key not in versions:
            found = state.by_number(slot.number) if state is not None else None
            if found is None and slot.consumed and not slot.links and not slot.metadata:
                continue  # a version this run only loaded from, deleted since: nothing to record on it
            if found is None:
                raise VersionNotFoundError(slot.model, slot.number, f"it was deleted while run {run.id} ran;"
                                           " the run's outputs stay in the store until garbage collection")
            versions[key] = found
        current = versions[key]
        links = list(current.artifacts)
        for output in slot.links:
            art_key = (slot.model, output.link.name)
            if output.version is not None and any(
                    a.name == output.link.name and a.version == output.version and a.sha256 == output.link.sha256
                    for a in links):
                art_versions[id(output)] = output.version  # linked already (a re-run on this version): once
                continue
            number = output.version if output.version is not None else used_art.get(art_key, 0) + 1
            used_art[art_key] = max(used_art.get(art_key, 0), number)
            art_versions[id(output)] = number
            links.append(replace(output.link, version=number, created=output.link.created or now()))
        runs = current.runs if run.id in current.runs else current.runs + (run.id,)
        status = run.status if current.created_by_run == run.id else current.run_status
        versions[key] = replace(current, metadata=merge_metadata(current.metadata, slot.metadata),
                                artifacts=tuple(links), runs=runs, run_status=status)
    for (name, number), version in versions.items():
        files[version_file(name, number)] = version_bytes(version)
    created = {id(s) for s in run.slots if s.created}
    manifest = run_document(run, numbers, art_versions, created)
    validate("run", manifest, run_file(run.id))
    files[run_file(run.id)] = within_limit(dump_yaml(manifest), run_file(run.id))
    produced = sum(len(s.links) for s in run.slots)
    made = ", ".join(dict.fromkeys(f"{s.model} v{s.number}" for s in run.slots if s.created)) or "no new version"
    message = (f"run {run.id}: {run.pipeline} {run.status} ({made}; {produced} artifact(s))\n\n"
               f"pipeline: {run.pipeline}\nrun: {run.id}\nstatus: {run.status}\nstarted: {run.started}\n"
               f"ended: {run.ended}\ncode: {run.code_commit or 'unknown'}{' (dirty)' if run.code_dirty else ''}\n"
               + (f"error: {run.error.splitlines()[0][:200]}\n" if run.error else ""))
    paths = sorted({model_path(s.model) for s in run.slots} | {run_file(run.id)})
    return Change(message=message, files=files, paths=paths, result=Recorded(numbers))


def run_document(run: PendingRun, numbers: dict[int, int], art_versions: dict[int, int],
                 created: set[int]) -> dict[str, Any]:
    def ref(output: Output) -> dict[str, Any]:
        link = output.link
        slot = output.slot
        doc: dict[str, Any] = {"name": link.name, "version": art_versions.get(id(output)), "type": link.type,
               "model": slot.model if slot else None, "model_version": numbers.get(id(slot)) if slot else None,
               "uri": link.uri, "sha256": link.sha256, "step": output.step, "run": link.run}
        if output.tags:
            doc["tags"] = list(output.tags)
        return doc

    models = []
    for slot in run.slots:
        entry = {"name": slot.model, "version": numbers[id(slot)], "created": id(slot) in created}
        if entry not in models:
            models.append(entry)
    steps = []
    for step in run.steps:
        steps.append({
            "name": step.name, "status": step.status, "started": step.started, "ended": step.ended or now_precise(),
            "model": {"name": step.slot.model, "version": numbers[id(step.slot)]} if step.slot else None,
            "parameters": step.parameters, "inputs": {k: ref(v) for k, v in step.inputs.items()},
            "outputs": [ref(o) for o in step.outputs], "error": step.error,
        })
    return {"format": 1, "id": run.id, "pipeline": run.pipeline, "status": run.status, "started": run.started,
            "ended": run.ended or now_precise(), "parameters": run.parameters,
            "code": {"commit": run.code_commit, "dirty": run.code_dirty}, "error": run.error,
            "models": models, "steps": steps}


# ---------------------------------------------------------------- reading

def read_run(repo: Any, commit: str | None, run_id: str) -> RunManifest | None:
    """The run ``run_id`` as recorded at ``commit`` (validated), or None."""
    from ..manifests import parse_yaml

    if commit is None:
        return None
    blob = repo.read_blob(f"{commit}:{run_file(run_id)}")
    if blob is None:
        return None
    doc = parse_yaml(blob[1], run_file(run_id))
    validate("run", doc, run_file(run_id))
    return RunManifest.from_dict(doc)


def prefetch_runs(repo: Any, commit: str | None, ids: list[str]) -> None:
    """A blob-less clone: fetch the run files about to be read in one request (not one each)."""
    if not repo.is_partial or commit is None or not ids:
        return
    tree = repo.read_tree(f"{commit}:{RUNS_PATH}")
    wanted = {f"{run_id}.yaml" for run_id in ids}
    repo.prefetch_blobs([e.oid for e in tree[1] if e.name in wanted] if tree else [])


def run_ids(repo: Any, commit: str | None) -> list[str]:
    tree = repo.read_tree(f"{commit}:{RUNS_PATH}") if commit else None
    return sorted(e.name[:-5] for e in tree[1] if e.name.endswith(".yaml")) if tree else []


def delete_run(snap: Snapshot, run_id: str, reason: str = "") -> Change:
    """Delete a run's manifest and take its id off the versions that list it (one commit)."""
    run = read_run(snap.repo, snap.commit, run_id)
    if run is None:
        raise NotFoundError(f"no pipeline run {run_id!r} is recorded (see `gitreg run list`)")
    files: dict[str, bytes | None] = {run_file(run_id): None}
    paths = [run_file(run_id)]
    for name in sorted({m[0] for m in run.models}):
        state = snap.model(name)
        for version in state.versions if state is not None else ():
            if run_id in version.runs:
                updated = replace(version, runs=tuple(r for r in version.runs if r != run_id))
                files[version_file(name, version.number)] = version_bytes(updated)
                if model_path(name) not in paths:
                    paths.append(model_path(name))
    return Change(message=f"run {run_id}: delete pipeline run record{reason_line(reason)}", files=files, paths=paths,
                  result=run)


def log_to_slot(slot: Slot, metadata: Mapping[str, Any]) -> None:
    """Merge metadata into the version of a run-bound model (``slot``), recorded with the run."""
    clean = check_json_value(dict(metadata), "metadata")
    slot.metadata = merge_metadata(slot.metadata, clean)
