"""A model as the registry holds it at one commit: its card, its readable versions, who holds each stage.

Plain values, built from validated documents; nothing here reads git or a cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..errors import AmbiguousStageError, InvalidValueError, ManifestError, VersionNotFoundError
from ..layout import version_file
from ..manifests import ModelManifest, StageHolders, VersionManifest
from ..stages import EXCLUSIVE_STAGES, RESERVED_VERSION_NAMES, ModelStages


def stage_claims(stages: StageHolders | None, version_stages: dict[int, str],
                 unreadable: Iterable[int] = (), version_aliases: Mapping[int, Iterable[str]] | None = None
                 ) -> dict[str, tuple[tuple[int, ...], str]]:
    """Each exclusive stage (or alias) whose holder is not one clear version: stage -> (the versions that
    claim it, what disagrees).  ``stages``: the model's stages.yaml (None: there is none, and the version
    manifests alone say who holds what); ``version_stages``: each readable version's ``stage``;
    ``unreadable``: versions whose manifest does not read (their claim can be neither made nor refuted);
    ``version_aliases``: each readable version's ``aliases`` (stages.yaml and they must agree, as for stages)."""
    out: dict[str, tuple[tuple[int, ...], str]] = {}
    skip = set(unreadable)
    for stage in sorted(EXCLUSIVE_STAGES, reverse=True):  # production, staging
        said = sorted(n for n, s in version_stages.items() if s == stage)
        if stages is None:
            if len(said) > 1:
                out[stage] = (tuple(said), "each version manifest says `stage: " + stage + "`")
            continue
        holder = stages.holder(stage)
        if holder in skip:
            continue
        if said != ([holder] if holder is not None else []):
            named = f"version {holder}" if holder is not None else "no version"
            manifests = ", ".join(str(n) for n in said) or "none"
            out[stage] = (tuple(sorted({*said, *([holder] if holder is not None else [])})),
                          f"stages.yaml names {named}; version manifests in that stage: {manifests}")
    claimed: dict[str, list[int]] = {}
    for number, names in sorted((version_aliases or {}).items()):
        for alias in names:
            claimed.setdefault(alias, []).append(number)
    pointers = dict(stages.aliases) if stages is not None else {}
    for alias in sorted(set(claimed) | set(pointers)):
        said = claimed.get(alias, [])
        if stages is None:
            if len(said) > 1:
                out[alias] = (tuple(said), "each version manifest lists alias " + alias)
            continue
        holder = pointers.get(alias)
        if holder in skip:
            continue
        if holder is not None and holder not in version_stages:
            out[alias] = ((holder,), f"stages.yaml names version {holder}, which does not exist")
        elif version_aliases is not None and said != ([holder] if holder is not None else []):
            where = f"version {holder}" if holder is not None else "no version"
            listing = ", ".join(str(n) for n in said) or "none"
            out[alias] = (tuple(sorted({*said, *([holder] if holder is not None else [])})),
                          f"stages.yaml names {where}; version manifests listing the alias: {listing}")
    return out


@dataclass(frozen=True)
class ModelState:
    """A model card with all its readable versions, sorted by number.

    ``stages``: the model's stages.yaml (None: it has none, and the version manifests alone say who holds
    each exclusive stage).  ``unreadable``: version number -> (field, problem) saying why its manifest does
    not read; reads of those versions fail with that reason, reads of every other version work."""

    model: ModelManifest
    versions: tuple[VersionManifest, ...]
    stages: StageHolders | None = None
    unreadable: Mapping[int, tuple[str, str]] = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.model.name

    def latest(self) -> VersionManifest | None:
        return self.versions[-1] if self.versions else None

    @cached_property
    def artifact_versions(self) -> dict[str, int]:
        """The highest version of each artifact name linked to any version (the next link is one more).
        Worked out once per state; a write's successor state carries it forward (see seed_successor)."""
        out: dict[str, int] = {}
        for version in self.versions:
            for link in version.artifacts:
                if link.version > out.get(link.name, 0):
                    out[link.name] = link.version
        return out

    def by_number(self, number: int) -> VersionManifest | None:
        for version in self.versions:
            if version.number == number:
                return version
        return None

    def by_name(self, name: str) -> VersionManifest | None:
        for version in self.versions:
            if version.name == name:
                return version
        return None

    def in_stage(self, stage: str) -> list[VersionManifest]:
        """The versions whose manifest says ``stage`` (for an exclusive stage, at most one unless the model
        has a stage conflict: see :meth:`stage_conflicts`)."""
        return [v for v in self.versions if v.stage == stage]

    @cached_property
    def _conflicts(self) -> dict[str, tuple[tuple[int, ...], str]]:
        return stage_claims(self.stages, {v.number: v.stage for v in self.versions}, self.unreadable,
                            {v.number: v.aliases for v in self.versions})

    def stage_conflicts(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """Exclusive stage -> (the versions claiming it, what disagrees), for each stage not held clearly."""
        return dict(self._conflicts)

    def holder(self, stage: str) -> int | None:
        """The number of the version holding the exclusive stage ``stage`` (None: nobody); raises
        AmbiguousStageError when more than one version claims it, ManifestError when its manifest
        does not read."""
        conflict = self._conflicts.get(stage)
        if conflict is not None:
            raise AmbiguousStageError(self.name, stage, *conflict)
        held = self.held(stage)
        number = held[0] if held else None
        if number is not None and number in self.unreadable:
            raise self._unreadable_error(number)
        return number

    def held(self, stage: str) -> tuple[int, ...]:
        """The versions holding the exclusive stage ``stage``: none or one, or every claimant when it is
        claimed twice (for listings, which show a conflict instead of failing; reads use :meth:`holder`)."""
        conflict = self._conflicts.get(stage)
        if conflict is not None:
            return conflict[0]
        number = self.stages.holder(stage) if self.stages is not None else \
            next((v.number for v in self.versions if v.stage == stage or stage in v.aliases), None)
        return (number,) if number is not None else ()

    def aliases(self) -> dict[str, int]:
        """Every alias of the model and the version it points at (stages.yaml's, else the manifests')."""
        if self.stages is not None:
            return dict(self.stages.aliases)
        return {alias: v.number for v in self.versions for alias in v.aliases}

    def whole(self) -> ModelState:
        """This model, when every version manifest of it reads; else the first one's ManifestError (for views
        of the whole model: a listing of its versions, its card with latest)."""
        if self.unreadable:
            number = min(self.unreadable)
            field, problem = self.unreadable[number]
            more = f" (and {len(self.unreadable) - 1} more unreadable version(s); run `gitreg check`)" \
                if len(self.unreadable) > 1 else ""
            raise ManifestError(version_file(self.name, number), field, problem + more)
        return self

    def _unreadable_error(self, number: int) -> ManifestError:
        return ManifestError(version_file(self.name, number), *self.unreadable[number])

    def resolve(self, spec: object) -> VersionManifest:
        """Find the version ``spec`` means: number, digit string, latest, stage or name."""
        kind, value = parse_version_spec(spec)
        name = self.name
        if kind == "latest":
            found = self.latest()
            top = max(self.unreadable, default=0)
            if top > (found.number if found is not None else 0):
                raise self._unreadable_error(top)
            if found is None:
                raise VersionNotFoundError(name, "latest", "the model has no versions yet")
            return found
        if kind == "number":
            found = self.by_number(value)
            if found is None:
                if value in self.unreadable:
                    raise self._unreadable_error(value)
                top = self.model.counters.versions
                hint = "it was deleted" if 0 < value <= top else f"the highest number is {top}"
                raise VersionNotFoundError(name, value, hint)
            return found
        if kind == "stage":
            if value in EXCLUSIVE_STAGES:
                number = self.holder(value)
                if number is None:
                    raise VersionNotFoundError(name, value, f"no version is in stage {value!r}")
                return self.by_number(number)  # type: ignore[return-value]  # holder() names a version that reads
            holders = self.in_stage(value)
            if not holders:
                raise VersionNotFoundError(name, value, f"no version is in stage {value!r}")
            if len(holders) > 1:
                numbers = ", ".join(str(v.number) for v in holders)
                raise VersionNotFoundError(
                    name, value, f"ambiguous: versions {numbers} are {value}; ask for a number"
                )
            return holders[0]
        found = self.by_name(value)
        if found is None:
            more = f"; versions {', '.join(map(str, sorted(self.unreadable)))} do not read (`gitreg check`)" \
                if self.unreadable else ""
            raise VersionNotFoundError(name, value, "no version has that name" + more)
        return found


def parse_version_spec(spec: object) -> tuple[str, Any]:
    """Classify a version spec as ("latest"|"number"|"stage"|"name", value).

    A number is an int (1 or more), its digits (``"3"``, ``"03"``), or its digits after a ``v``
    or ``V`` as listings show it (``"v3"``, ``"V12"``): ``v3`` means version 3, never a version
    named "v3" (such a name cannot be created). Only ASCII digits count; ``"v3x"`` is a name.
    """
    if isinstance(spec, ModelStages):
        spec = spec.value
    if isinstance(spec, bool):
        raise InvalidValueError(f"invalid version {spec!r}")
    if isinstance(spec, int):
        if spec < 1:
            raise InvalidValueError(f"invalid version number {spec}: numbers start at 1")
        return "number", spec
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidValueError(f"invalid version {spec!r}: give a number, a name, 'latest' or a stage")
    text = spec.strip()
    digits = text[1:] if text[:1] in ("v", "V") else text
    if digits.isascii() and digits.isdigit():
        try:
            number = int(digits)
        except ValueError:  # more digits than Python converts: no version has such a number
            raise InvalidValueError(f"invalid version {text[:20]!r}...: a number of {len(digits)} digits") from None
        if number < 1:
            raise InvalidValueError(f"invalid version {text!r}: numbers start at 1")
        return "number", number
    if text.lower() == "latest":
        return "latest", None
    if text.lower() in RESERVED_VERSION_NAMES:
        return "stage", text.lower()
    return "name", text



def holders_of(docs: Mapping[str, Any]) -> StageHolders | None:
    found = docs.get("stages")
    return StageHolders.from_dict(found) if found is not None else None


def unreadable_of(docs: Mapping[str, Any]) -> dict[int, tuple[str, str]]:
    return {int(n): (why[0], why[1]) for n, why in (docs.get("unreadable") or {}).items()}


def state_of(docs: Mapping[str, Any]) -> ModelState:
    """The model a folder's validated documents describe."""
    return ModelState(ModelManifest.from_dict(docs["model"]),
                      tuple(VersionManifest.from_dict(v) for v in docs["versions"]), holders_of(docs),
                      unreadable_of(docs))


def carry_artifact_versions(before: ModelState | None, after: ModelState, rewritten: dict[int, Any]) -> None:
    """Give ``after`` the artifact versions of ``before`` (if worked out) raised by the links of the versions
    rewritten, when that is what working them out would give: no version removed and no link taken away
    (a highest version could go with it).  Otherwise ``after`` works them out itself when asked."""
    known = before.__dict__.get("artifact_versions") if before is not None else None
    if known is None:
        return
    old = {v.number: v for v in before.versions}  # type: ignore[union-attr]  # known came from before
    new = {v.number: v for v in after.versions if v.number in rewritten}
    out = dict(known)
    for number, doc in rewritten.items():
        if doc is None or number not in new:
            return
        links = {(a.name, a.version) for a in new[number].artifacts}
        if number in old and not {(a.name, a.version) for a in old[number].artifacts} <= links:
            return
        for name, version in links:
            if version > out.get(name, 0):
                out[name] = version
    after.__dict__["artifact_versions"] = out


