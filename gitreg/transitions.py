"""What a commit changed in the registry, read from the manifests: registrations and stage moves.

Shared by ``gitreg tags sync`` (which tags what a merge could not carry) and by the
history of a model.  Works on raw manifests so that a commit with a broken file
elsewhere still yields the transitions it can.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import ManifestError
from .gitrepo import GitRepo, TreeEntry
from .manifests import parse_yaml
from .stages import EXCLUSIVE_STAGES
from .state import MODELS_PATH


@dataclass(frozen=True)
class Transition:
    """One registration or stage move that ``commit`` made, relative to its first parent."""

    kind: str                 # "registered" or "stage"
    model: str
    version: int
    name: str                 # the version's name
    stage: str                # the stage after the commit
    previous_stage: str       # "none" for a registration
    demoted: tuple[int, ...]  # versions moved out of an exclusive stage to archived by the same commit
    counter: int | None       # the model's counter for that stage after the commit, if it moved


def _entries(repo: GitRepo, rev: str) -> dict[str, TreeEntry]:
    tree = repo.read_tree(rev)
    return {e.name: e for e in tree[1]} if tree else {}


def _docs(repo: GitRepo, oids: list[str], where: str) -> list[dict[str, Any] | None]:
    out: list[dict[str, Any] | None] = []
    for data in repo.read_blobs(oids):
        try:
            doc = parse_yaml(data or b"", where)
        except ManifestError:
            doc = None
        out.append(doc if isinstance(doc, dict) else None)
    return out


def _counters(repo: GitRepo, models: dict[str, TreeEntry], model: str) -> dict[str, int]:
    entry = models.get(model)
    if entry is None or not entry.is_tree:
        return {}
    card = _entries(repo, entry.oid).get("model.yaml")
    if card is None:
        return {}
    doc = _docs(repo, [card.oid], f"{MODELS_PATH}/{model}/model.yaml")[0] or {}
    counters = doc.get("counters")
    return {k: v for k, v in counters.items() if isinstance(v, int)} if isinstance(counters, dict) else {}


def commit_transitions(repo: GitRepo, commit: str, parent: str | None) -> list[Transition]:
    """Registrations and stage moves of ``commit`` against ``parent`` (None: a root commit)."""
    new_models = _entries(repo, f"{commit}:{MODELS_PATH}")
    old_models = _entries(repo, f"{parent}:{MODELS_PATH}") if parent else {}
    out: list[Transition] = []
    for model in sorted(new_models):
        new_entry, old_entry = new_models[model], old_models.get(model)
        if not new_entry.is_tree or (old_entry is not None and old_entry.oid == new_entry.oid):
            continue
        new_files = _version_entries(repo, new_entry.oid)
        old_files = _version_entries(repo, old_entry.oid) if old_entry is not None and old_entry.is_tree else {}
        changed = sorted(n for n, e in new_files.items() if n not in old_files or old_files[n].oid != e.oid)
        if not changed:
            continue
        where = f"{MODELS_PATH}/{model}/versions"
        new_docs = dict(zip(changed, _docs(repo, [new_files[n].oid for n in changed], where)))
        before = [n for n in changed if n in old_files]
        old_docs = dict(zip(before, _docs(repo, [old_files[n].oid for n in before], where)))
        counters_new = _counters(repo, new_models, model)
        counters_old = _counters(repo, old_models, model)
        moves: list[tuple[int, str, str, str]] = []  # (number, name, old stage, new stage)
        for number in changed:
            doc = new_docs.get(number)
            if doc is None or not isinstance(doc.get("stage"), str):
                continue
            old = old_docs.get(number)
            old_stage = old.get("stage") if old else None
            name = str(doc.get("name", number))
            if old is None:
                out.append(Transition("registered", model, number, name, "none", "none", (), None))
            if doc["stage"] != (old_stage or "none"):
                moves.append((number, name, old_stage or "none", doc["stage"]))
        entering = {stage for _n, _name, _old, stage in moves if stage in EXCLUSIVE_STAGES}
        demoted = {n: old for n, _name, old, stage in moves if stage == "archived" and old in entering}
        for number, name, old_stage, stage in moves:
            if number in demoted:
                continue
            pushed_out = tuple(sorted(n for n, old in demoted.items() if old == stage))
            moved = counters_new.get(stage, 0) > counters_old.get(stage, 0)
            out.append(Transition("stage", model, number, name, stage, old_stage, pushed_out,
                                  counters_new.get(stage) if moved else None))
    return out


def _version_entries(repo: GitRepo, model_tree: str) -> dict[int, TreeEntry]:
    folder = _entries(repo, model_tree).get("versions")
    if folder is None or not folder.is_tree:
        return {}
    out = {}
    for entry in repo.tree_entries(folder.oid):
        stem = entry.name[:-5] if entry.name.endswith(".yaml") else ""
        if not entry.is_tree and stem.isdigit() and not stem.startswith("0"):
            out[int(stem)] = entry
    return out


_BULLET = re.compile(r"^[*\-]\s+")
_FIELD = re.compile(r"^\s*[A-Za-z][A-Za-z-]*: ")


def message_block(message: str, subject: str) -> str | None:
    """The part of a commit message that starts with ``subject`` (a squash merge lists many), or None."""
    lines = message.splitlines()
    for i, line in enumerate(lines):
        if _BULLET.sub("", line.strip()) != subject:
            continue
        block = [subject, ""]
        j = i + 1
        if j < len(lines) and not lines[j].strip():
            j += 1
        while j < len(lines) and _FIELD.match(lines[j]):
            block.append(lines[j].strip())
            j += 1
        return "\n".join(block) + "\n"
    return None
