"""What commits changed in the registry, read from the manifests: registrations and stage moves.

Used by ``gitreg tags sync`` (which tags what a merge could not carry).  One
``git log --raw`` lists, for every commit of a branch's first-parent history,
the manifests it changed with their old and new blob ids; the blobs are then
read in one pipelined exchange.  Works on raw manifests, so a commit with a
broken file elsewhere still yields the transitions it can.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ManifestError
from .git import ZERO_OID, GitRepo
from .layout import MODELS_PATH, classify
from .manifests import parse_yaml
from .stages import EXCLUSIVE_STAGES


@dataclass(frozen=True)
class Transition:
    """One registration or stage move that a commit made, relative to its first parent."""

    kind: str                 # "registered" or "stage"
    model: str
    version: int
    stage: str                # the stage after the commit
    previous_stage: str       # "none" for a registration
    demoted: tuple[int, ...]  # versions moved out of an exclusive stage to archived by the same commit
    new_blob: str             # the version manifest after the commit
    card: tuple[str, str]     # the model.yaml blobs (before, after); ZERO_OID when absent or unchanged

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.kind, self.model, self.version, self.stage)


@dataclass
class CommitChange:
    """The registry files one commit changed: path -> (old blob, new blob)."""

    commit: str
    parents: list[str]
    files: dict[str, tuple[str, str]] = field(default_factory=dict)


def _parse_raw(text: str) -> list[CommitChange]:
    """The commits and changed files of ``git log``/``diff-tree`` output in ``--raw -z`` form (``@@<commit>
    <parents>`` records, then ``:<modes> <old> <new> <status>`` and the path as records of their own: paths
    come exactly as git has them, white space included)."""
    out: list[CommitChange] = []
    records = iter(text.split("\0"))
    for record in records:
        record = record.lstrip("\n")
        if record.startswith("@@"):
            ids = record[2:].split()
            out.append(CommitChange(ids[0], ids[1:]))
        elif record.startswith(":") and out:
            parts = record.split()
            path = next(records, "")
            if len(parts) >= 5:
                out[-1].files[path] = (parts[2], parts[3])
    return out


def _raw(repo: GitRepo, *args: str) -> str:
    return repo.run(*args).stdout.decode("utf-8", "surrogateescape")


def branch_changes(repo: GitRepo, branch: str) -> list[CommitChange]:
    """Oldest first: each first-parent commit of ``branch`` that changed ``.mcp/models``."""
    text = _raw(repo, "log", "--first-parent", "--diff-merges=first-parent", "--raw", "-r", "--no-renames",
                "--no-abbrev", "--reverse", "-z", "--format=@@%H %P", branch, "--", MODELS_PATH)
    return _parse_raw(text)


def commit_change(repo: GitRepo, commit: str, parent: str | None) -> CommitChange:
    """What ``commit`` changed in the registry against ``parent`` (None: a root commit)."""
    args = ["diff-tree", "-r", "--raw", "--no-renames", "--no-abbrev", "--no-commit-id", "-z"]
    args += [parent, commit] if parent else ["--root", commit]
    text = _raw(repo, *args, "--", MODELS_PATH)
    change = _parse_raw(f"@@{commit} {parent or ''}\0{text}")
    return change[0]


_STAGE_LINE = re.compile(rb"^stage: *['\"]?([a-z]+)['\"]? *$", re.M)


def stage_of(data: bytes | None, path: str) -> str | None:
    """The ``stage`` of a version manifest: the line gitreg writes, else a YAML parse."""
    if data is None:
        return None
    found: list[bytes] = _STAGE_LINE.findall(data)
    if len(found) == 1:
        return found[0].decode()
    try:
        doc = parse_yaml(data, path)
    except ManifestError:
        return None
    stage = doc.get("stage") if isinstance(doc, dict) else None
    return stage if isinstance(stage, str) else None


def transitions(repo: GitRepo, changes: list[CommitChange]) -> dict[str, list[Transition]]:
    """Commit -> its registrations and stage moves, for many commits with one exchange of blobs."""
    wanted: list[str] = []
    for change in changes:
        for path, (old, new) in change.files.items():
            if "/versions/" in path:
                wanted += [b for b in (old, new) if b != ZERO_OID]
    repo.prefetch_blobs(wanted)  # a blob-less clone: one fetch for all of them
    blobs = dict(zip(wanted, repo.read_blobs(wanted))) if wanted else {}
    return {c.commit: _of_commit(c, blobs) for c in changes}


def _of_commit(change: CommitChange, blobs: dict[str, bytes | None]) -> list[Transition]:
    by_model: dict[str, dict[int, tuple[str, str]]] = {}
    cards: dict[str, tuple[str, str]] = {}
    for path, blobs_pair in change.files.items():
        found = classify(path)  # only the paths the grammar names: no other file is ever read as a manifest
        if found is None or found.model is None:
            continue
        if found.kind == "model":
            cards[found.model] = blobs_pair
        elif found.kind == "version" and found.number is not None:
            by_model.setdefault(found.model, {})[found.number] = blobs_pair
    out: list[Transition] = []
    for model in sorted(by_model):
        card = cards.get(model, (ZERO_OID, ZERO_OID))
        moves: list[tuple[int, str, str, str]] = []  # (number, old stage, new stage, new blob)
        for number, (old, new) in sorted(by_model[model].items()):
            if new == ZERO_OID:
                continue  # deleted
            path = f"{MODELS_PATH}/{model}/versions/{number}.yaml"
            stage = stage_of(blobs.get(new), path)
            if stage is None:
                continue
            old_stage = stage_of(blobs.get(old), path) if old != ZERO_OID else None
            if old == ZERO_OID:
                out.append(Transition("registered", model, number, "none", "none", (), new, card))
            if stage != (old_stage or "none"):
                moves.append((number, old_stage or "none", stage, new))
        entering = {stage for _n, _old, stage, _b in moves if stage in EXCLUSIVE_STAGES}
        demoted = {n: old for n, old, stage, _b in moves if stage == "archived" and old in entering}
        for number, old_stage, stage, new in moves:
            if number in demoted:
                continue
            pushed_out = tuple(sorted(n for n, old in demoted.items() if old == stage))
            out.append(Transition("stage", model, number, stage, old_stage, pushed_out, new, card))
    return out


def _doc(data: bytes | None, path: str) -> dict[str, Any]:
    try:
        doc = parse_yaml(data or b"", path)
    except ManifestError:
        return {}
    return doc if isinstance(doc, dict) else {}


def details(repo: GitRepo, t: Transition) -> tuple[str, int | None]:
    """(the version's name, the model's counter for ``t.stage`` if this commit moved it)."""
    path = f"{MODELS_PATH}/{t.model}"
    name = str(_doc(repo.read_blobs([t.new_blob])[0], f"{path}/versions/{t.version}.yaml").get("name", t.version))
    if t.kind != "stage" or t.card[1] == ZERO_OID:
        return name, None
    old, new = (_doc(data, f"{path}/model.yaml").get("counters") or {}
                for data in repo.read_blobs([t.card[0], t.card[1]]))
    after, before = new.get(t.stage), old.get(t.stage, 0)
    return name, after if isinstance(after, int) and isinstance(before, int) and after > before else None


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
