"""Pipeline runs in the registry: what a run records, and the one commit that records it.

While a pipeline runs nothing is committed: artifact bytes go to the store as they
are produced, and everything else (new versions, metadata, artifact links, the run
itself) waits in a :class:`PendingRun`.  When the run ends, completed or failed,
:func:`record_run` turns it into one commit (plus registration tags): a pure
function of the branch head, so a lost race simply recomputes numbers on the new
head.  The run's manifest is ``.mcp/runs/<id>.yaml`` (schema ``run``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .manifests import (
    ArtifactLink, ModelManifest, VersionManifest, dump_yaml, merge_metadata, now, now_precise, validate,
    within_limit,
)
from .operations import (
    check_case_clash, model_bytes, new_model, registered_numbers, validate_version_name, version_bytes,
)
from .registry import Change
from .state import MCP, model_path, version_file
from .tagnames import format_version_message, format_version_tag

RUNS_PATH = f"{MCP}/runs"


def run_file(run_id: str) -> str:
    return f"{RUNS_PATH}/{run_id}.yaml"


# ---------------------------------------------------------------- pending state (mutable, during a run)

@dataclass
class Slot:
    """A model version a run uses or produces; new ones get their number when the run is recorded."""

    model: str
    number: int | None                 # known for existing versions
    new: bool = False
    version_name: str | None = None    # a new version's name (None: its number)
    card: dict[str, Any] = field(default_factory=dict)
    model_tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    links: list["Output"] = field(default_factory=list)


@dataclass
class Output:
    """An artifact stored during the run (bytes already in the store), linked when the run is recorded."""

    link: ArtifactLink                 # its version is assigned when recorded
    slot: Slot | None                  # the model version it belongs to (None: the step had no model)
    step: str | None


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
    def from_dict(cls, doc: dict[str, Any]) -> "RunManifest":
        return cls(doc["id"], doc["pipeline"], doc["status"], doc["started"], doc["ended"], doc["parameters"],
                   doc["code"]["commit"], doc["code"]["dirty"], doc.get("error"),
                   tuple((m["name"], m["version"], m["created"]) for m in doc["models"]),
                   tuple(doc["steps"]), doc)


# ---------------------------------------------------------------- recording: snapshot in, Change out

@dataclass(frozen=True)
class Recorded:
    numbers: dict[int, int]            # id(slot) -> version number


def record_run(snap: Any, run: PendingRun) -> Change:
    """The commit that records ``run``: new versions, metadata, links, the run manifest."""
    files: dict[str, bytes | None] = {}
    tags: list[tuple[str, str]] = []
    numbers: dict[int, int] = {}
    registered: set[int] = set()  # id(slot) of the versions this run registers
    art_versions: dict[int, int] = {}
    models: dict[str, ModelManifest] = {}
    versions: dict[tuple[str, int], VersionManifest] = {}
    allocated: dict[str, int] = {}
    used_art: dict[tuple[str, str], int] = {}
    by = snap.repo.identity()
    prefix = snap.config.tag_prefix
    for slot in run.slots:
        state = snap.model(slot.model)
        if slot.model not in models:
            if state is None:
                models[slot.model] = new_model(slot.model, slot.card, slot.model_tags)
                check_case_clash(snap, slot.model)
            else:
                models[slot.model] = state.model
            for v in state.versions if state is not None else ():
                for link in v.artifacts:
                    key = (slot.model, link.name)
                    used_art[key] = max(used_art.get(key, 0), link.version)
        named = state.by_name(slot.version_name) if state is not None and slot.version_name else None
        if slot.new and named is not None:  # another run created that name meanwhile: use it
            slot_number: int | None = named.number
        else:
            slot_number = slot.number
        if slot.new and named is None:
            card = models[slot.model]
            top = max([card.counters.versions, allocated.get(slot.model, 0),
                       *registered_numbers(snap, slot.model)])
            number = top + 1
            allocated[slot.model] = number
            registered.add(id(slot))
            name = slot.version_name or str(number)
            if slot.version_name:
                validate_version_name(slot.version_name)
            models[slot.model] = replace(card, counters=replace(card.counters, versions=number))
            versions[(slot.model, number)] = VersionManifest(model=slot.model, number=number, name=name,
                                                             created=run.started[:19] + "Z")
            message = format_version_message(slot.model, number, name, by, f"pipeline run {run.id}")
            tags.append((format_version_tag(prefix, slot.model, number), message))
        else:
            number = slot_number  # type: ignore[assignment]
            if (slot.model, number) not in versions:
                versions[(slot.model, number)] = state.resolve(number)  # type: ignore[union-attr]
        numbers[id(slot)] = number
        current = versions[(slot.model, number)]
        links = list(current.artifacts)
        for output in slot.links:
            key = (slot.model, output.link.name)
            used_art[key] = used_art.get(key, 0) + 1
            art_versions[id(output)] = used_art[key]
            links.append(replace(output.link, version=used_art[key], created=output.link.created or now()))
        runs = current.runs if run.id in current.runs else current.runs + (run.id,)
        versions[(slot.model, number)] = replace(current, metadata=merge_metadata(current.metadata, slot.metadata),
                                                 artifacts=tuple(links), runs=runs)
    for name, card in models.items():
        state = snap.model(name)
        if state is None or state.model != card:
            files[f"{model_path(name)}/model.yaml"] = model_bytes(card)
    for (name, number), version in versions.items():
        files[version_file(name, number)] = version_bytes(version)
    manifest = run_document(run, numbers, art_versions, registered)
    validate("run", manifest, run_file(run.id))
    files[run_file(run.id)] = within_limit(dump_yaml(manifest), run_file(run.id))
    produced = sum(len(s.links) for s in run.slots)
    made = ", ".join(f"{s.model} v{numbers[id(s)]}" for s in run.slots if id(s) in registered) or "no new version"
    message = (f"run {run.id}: {run.pipeline} {run.status} ({made}; {produced} artifact(s))\n\n"
               f"pipeline: {run.pipeline}\nrun: {run.id}\nstatus: {run.status}\nstarted: {run.started}\n"
               f"ended: {run.ended}\ncode: {run.code_commit or 'unknown'}{' (dirty)' if run.code_dirty else ''}\n"
               + (f"error: {run.error.splitlines()[0][:200]}\n" if run.error else ""))
    paths = sorted({model_path(s.model) for s in run.slots} | {run_file(run.id)})
    return Change(message=message, files=files, tags=tags, paths=paths,
                  result=Recorded(numbers))


def run_document(run: PendingRun, numbers: dict[int, int], art_versions: dict[int, int],
                 created: set[int]) -> dict[str, Any]:
    def ref(output: Output) -> dict[str, Any]:
        link = output.link
        slot = output.slot
        return {"name": link.name, "version": art_versions.get(id(output)), "type": link.type,
                "model": slot.model if slot else None, "model_version": numbers.get(id(slot)) if slot else None,
                "uri": link.uri, "sha256": link.sha256, "step": output.step, "run": link.run}

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
    from .manifests import parse_yaml

    if commit is None:
        return None
    blob = repo.read_blob(f"{commit}:{run_file(run_id)}")
    if blob is None:
        return None
    doc = parse_yaml(blob[1], run_file(run_id))
    validate("run", doc, run_file(run_id))
    return RunManifest.from_dict(doc)


def run_ids(repo: Any, commit: str | None) -> list[str]:
    tree = repo.read_tree(f"{commit}:{RUNS_PATH}") if commit else None
    return sorted(e.name[:-5] for e in tree[1] if e.name.endswith(".yaml")) if tree else []
