"""Upgrading a registry's layout to the format this gitreg writes (registry.yaml ``format``).

Format 2 records each model's exclusive stages in ``models/<model>/stages.yaml`` as well as in the
version manifests, one line per stage, so that git turns two concurrent promotions into a merge
conflict instead of merging them into two versions in one stage; it claims each model's name whatever
its case in ``names/<lower-case name>.yaml``, so that two new models whose names differ only in case
conflict too (they would be one folder on macOS and Windows); and it pins git's attributes for
``.mcp/`` (``.mcp/.gitattributes``, see :mod:`gitreg.attributes`), so that its files are the bytes
gitreg wrote whatever a clone's line-ending settings say.  Registries in format 1 keep reading;
the first write (or ``gitreg migrate``) upgrades them in a commit of its own, before the write's commit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .attributes import ATTRIBUTES_PATH, pinned_attributes
from .errors import AmbiguousStageError, ManifestError, NotARegistryError
from .layout import REGISTRY_PATH, name_claim_file, stages_file
from .manifests import REGISTRY_FORMAT, NameClaim, StageHolders, dump
from .stages import EXCLUSIVE_STAGES
from .state import Snapshot


@dataclass(frozen=True)
class Migration:
    """What a migration did: the format before and after, the models given a stages.yaml, and the models
    left without one (name, why) until their stage conflict is repaired."""

    before: int
    after: int
    models: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Upgrade:
    """The commit a migration makes: its message and files (path -> bytes), and what it did."""

    message: str
    files: dict[str, bytes | None]
    result: Migration


def needs_migration(snap: Snapshot) -> bool:
    """Whether the registry at ``snap`` is in an older format than this gitreg writes."""
    if snap.commit is None:
        return False
    try:
        return snap.config.format < REGISTRY_FORMAT
    except NotARegistryError:
        return False  # being initialised


def migration_change(snap: Snapshot, complete: bool = False) -> Upgrade | None:
    """The commit that upgrades the registry at ``snap`` to :data:`REGISTRY_FORMAT`, or None if it is current.
    ``complete``: also for a registry in the current format, adding what it lacks of the format's files
    (a name claim or ``.gitattributes`` removed by hand); None when it lacks nothing.

    A model whose manifests put two versions in one exclusive stage (or whose card does not read) gets no
    stages.yaml: reads of that stage keep naming the claimants and the repair, whose write adds the file.
    """
    if not needs_migration(snap) and not (complete and snap.commit is not None):
        return None
    config = snap.config
    files: dict[str, bytes | None] = {}
    if config.format < REGISTRY_FORMAT:
        files[REGISTRY_PATH] = dump("registry", replace(config, format=REGISTRY_FORMAT), REGISTRY_PATH)
    pinned = pinned_attributes()
    found = snap.repo.read_blob(f"{snap.commit}:{ATTRIBUTES_PATH}")
    if found is None or found[1] != pinned:
        files[ATTRIBUTES_PATH] = pinned
    done: list[str] = []
    skipped: list[tuple[str, str]] = []
    names = snap.model_names()
    folded: dict[str, list[str]] = {}
    for name in names:
        folded.setdefault(name.lower(), []).append(name)
    for name in names:
        twins = folded[name.lower()]
        if len(twins) > 1:
            skipped.append((name, f"no name claim: the models {' and '.join(twins)} differ only in case (one folder"
                                  " on macOS and Windows); rename or remove all but one"))
        elif snap.repo.read_blob(f"{snap.commit}:{name_claim_file(name)}") is None:
            files[name_claim_file(name)] = dump("claim", NameClaim(name), name_claim_file(name))
    for name in names:
        try:
            state = snap.model(name)
        except ManifestError as exc:
            skipped.append((name, f"does not read ({exc}); `gitreg check` says what to fix"))
            continue
        if state is None or state.stages is not None:
            continue
        conflicts = state.stage_conflicts()
        if conflicts:
            stage, (claimants, detail) = sorted(conflicts.items())[0]
            error = AmbiguousStageError(name, stage, claimants, detail)
            skipped.append((name, f"{stage} is claimed by versions {', '.join(map(str, claimants))}; repair with"
                                  f" `{error.repair}`"))
            continue
        holders = StageHolders.from_dict({s: (held[0].number if (held := state.in_stage(s)) else None)
                                          for s in EXCLUSIVE_STAGES})
        files[stages_file(name)] = dump("stages", holders, stages_file(name))
        done.append(name)
    if not files:
        return None
    result = Migration(config.format, REGISTRY_FORMAT, tuple(done), tuple(skipped))
    return Upgrade(migration_message(result), files, result)


def migration_message(m: Migration) -> str:
    title = f"gitreg: migrate the registry to format {m.after}" if m.before < m.after else \
        f"gitreg: complete the registry's format {m.after} files"
    lines = [title, "",
             "Each model's exclusive stages (staging, production) are now also recorded in",
             ".mcp/models/<model>/stages.yaml, one line each, so that git turns two concurrent",
             "promotions into a merge conflict instead of two versions in one stage;",
             ".mcp/names/<lower-case name>.yaml claims each model's name whatever its case, so",
             "that two new models whose names differ only in case conflict in git too; and",
             ".mcp/.gitattributes pins git's attributes for .mcp/, so that its files are",
             "the bytes gitreg wrote whatever a clone's line-ending settings say.", "",
             f"format: {m.before} -> {m.after}",
             f"models: {len(m.models)} given a stages.yaml"]
    lines += [f"skipped: {name}: {why}" for name, why in m.skipped]
    return "\n".join(lines) + "\n"
