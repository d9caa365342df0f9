"""Registry state at one commit, read from git objects (never the work tree).

Reading a model costs one tree lookup plus, on a cache miss, its manifests.
The parsed and validated manifests of a model are cached under the git dir,
keyed by the model's tree id: derived from immutable objects, safe to delete.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .errors import (
    AmbiguousStageError,
    InvalidValueError,
    ManifestError,
    ModelNotFoundError,
    NotARegistryError,
    VersionNotFoundError,
)
from .git import GitRepo
from .layout import (
    MCP,
    MODELS_PATH,
    REGISTRY_PATH,
    STAGES_FILE,
    model_file,
    model_path,
    stages_file,
    version_file,
    version_file_number,
    version_number,
)
from .manifests import (
    ModelManifest,
    RegistryConfig,
    StageHolders,
    VersionManifest,
    load_registry,
    parse_dumped,
    parse_yaml,
    schema_problems,
)
from .names import is_valid_name
from .stages import EXCLUSIVE_STAGES, RESERVED_VERSION_NAMES, ModelStages

CACHE_FORMAT = "m5"  # m3: deltas on another entry; m4: stages.yaml and unreadable versions; m5: YAML-only values
CHAIN_MAX = 16  # a model's cache entry is a delta on its predecessor's at most this many times in a row

__all__ = ["MCP", "MODELS_PATH", "REGISTRY_PATH", "model_file", "model_path", "stages_file", "version_file",
           "version_number"]


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


class Snapshot:
    """Read-only view of the registry at ``commit`` (None: the branch is unborn)."""

    def __init__(self, repo: GitRepo, commit: str | None) -> None:
        self.repo = repo
        self.commit = commit
        self._config: RegistryConfig | None = None
        self._models: dict[str, ModelState | None] = {}
        self._docs: dict[str, dict[str, Any]] = {}  # validated documents behind _models
        self._trees: dict[str, str] = {}  # model -> its folder's tree id at this commit (the models read)

    def _rev(self, path: str) -> str:
        return f"{self.commit}:{path}"

    @property
    def config(self) -> RegistryConfig:
        if self._config is None:
            blob = self.repo.read_blob(self._rev(REGISTRY_PATH)) if self.commit else None
            if blob is None:
                raise NotARegistryError(
                    str(self.repo.root),
                    "no gitreg registry here (.mcp/registry.yaml is not committed); run `gitreg init`",
                )
            known = _CONFIGS.get(blob[0])
            if known is not None:
                self._config = known
                return known
            cached = cache_get(self.repo, blob[0])
            if cached is not None:
                self._config = RegistryConfig.from_dict(cached)
            else:
                self._config = load_registry(blob[1], REGISTRY_PATH)
                cache_put(self.repo, blob[0], self._config.to_dict())
            if len(_CONFIGS) >= 16:
                _CONFIGS.clear()
            _CONFIGS[blob[0]] = self._config
        return self._config

    def model_names(self) -> list[str]:
        self.config  # noqa: B018 - raise NotARegistryError first
        tree = self.repo.read_tree(self._rev(MODELS_PATH))
        if tree is None:
            return []
        # a folder whose name is no model name cannot be read (`gitreg check` reports it)
        return sorted(e.name for e in tree[1] if e.is_tree and is_valid_name(e.name))

    def model(self, name: str) -> ModelState | None:
        if name not in self._models:
            self._models[name] = self._load_model(name)
        return self._models[name]

    def require(self, name: str) -> ModelState:
        state = self.model(name)
        if state is None:
            import difflib

            raise ModelNotFoundError(name, difflib.get_close_matches(name, self.model_names(), n=3, cutoff=0.6))
        return state

    def models(self, names: Iterable[str] | None = None) -> list[ModelState]:
        """Whole models (see :meth:`ModelState.whole`): one with a version that does not read raises."""
        out = []
        if names is None:
            self.repo.complete_clone()  # every model is read: a blob-less clone gets all its files at once
        for name in names if names is not None else self.model_names():
            state = self.model(name)
            if state is not None:
                out.append(state.whole())
        return out

    def readable_models(self) -> tuple[list[ModelState], list[ManifestError]]:
        """Every model that reads, and what is wrong with each one that does not (for listings)."""
        states: list[ModelState] = []
        broken: list[ManifestError] = []
        self.repo.complete_clone()  # every model is read: a blob-less clone gets all its files at once
        for name in self.model_names():
            try:
                state = self.model(name)
                if state is not None:
                    state.whole()
            except ManifestError as exc:
                broken.append(exc)
                continue
            if state is not None:
                states.append(state)
        return states, broken

    # ------------------------------------------------------------ loading

    def _load_model(self, name: str) -> ModelState | None:
        self.config  # noqa: B018
        if self.commit is None:
            return None
        tree = self.repo.read_tree(self._rev(model_path(name)))
        if tree is None:
            return None
        self._trees[name] = tree[0]
        hit = _LOADED.get(tree[0])
        if hit is not None and hit.state.name == name:  # the same tree read (or written) before in this process
            self._docs[name] = hit.docs
            _LATEST[name] = tree[0]
            return hit.state
        state = _cached_successor(self.repo, name, tree[0]) or _successor_of_known(self.repo, name, tree[0], tree[1])
        if state is not None:
            self._docs[name] = _LOADED[tree[0]].docs
            return state
        problems: list[Problem] = []
        cached, _versions, fatal = validated_model(self.repo, name, tree[0], problems)
        if cached is None:
            errors = fatal or [p for p in problems if p.severity == "error"]
            first = errors[0]
            more = f" (and {len(errors) - 1} more problem(s); run `gitreg check`)" if len(errors) > 1 else ""
            raise ManifestError(first.path, first.field, first.message + more, code=first.code)
        self._docs[name] = cached
        return _remember(tree[0], cached, state_of(cached), int(cached.get("depth") or 0))

    def seed_successor(self, commit: str, files: dict[str, bytes | None]) -> None:
        """Cache the models of ``commit``, made from this snapshot by writing ``files``.

        The written bytes were validated when they were dumped, so the next read
        of these models (in any process) needs no parsing of unchanged manifests.
        The cache entry for another process is a delta on this snapshot's entry (only the
        rewritten manifests), so what a write stores does not grow with the model's versions.
        """
        changed: dict[str, dict[str, bytes | None]] = {}
        prefix = MODELS_PATH + "/"
        for path, data in files.items():
            if path.startswith(prefix):
                changed.setdefault(path[len(prefix):].split("/", 1)[0], {})[path] = data
        for name, model_files in changed.items():
            tree = self.repo.resolve(f"{commit}:{model_path(name)}")
            if tree is None or (tree in _LOADED and os.path.exists(_cache_file(self.repo, tree))):
                continue  # known here, and cached for other processes (of this repository: the cache is its own)
            before = self.model(name)  # loads (and remembers) the documents this change started from
            old = self._docs.get(name)
            model_doc = old["model"] if old else None
            versions = {d["number"]: d for d in old["versions"]} if old else {}
            # warnings of the files this change left alone still hold; rewritten files are checked again
            warnings = [w for w in (old.get("warnings") or []) if w["path"] not in model_files] if old else []
            rewritten: dict[int, dict[str, Any] | None] = {}
            stages_doc = old.get("stages") if old else None
            unreadable = dict(old.get("unreadable") or {}) if old else {}
            for path, data in model_files.items():
                if path == model_file(name):
                    model_doc = parse_dumped(data, path) if data is not None else None
                    continue
                if path == stages_file(name):
                    stages_doc = parse_dumped(data, path) if data is not None else None
                    continue
                number = version_number(path)
                if number is None:
                    continue
                unreadable.pop(str(number), None)
                if data is None:
                    versions.pop(number, None)
                    rewritten[number] = None
                else:
                    versions[number] = rewritten[number] = parse_dumped(data, path)
                    found: list[Problem] = []
                    check_version_doc(versions[number], name, number, path, found)
                    warnings += [dataclasses.asdict(w) for w in found]
            if model_doc is not None:
                docs = {"model": model_doc, "versions": [versions[n] for n in sorted(versions)], "warnings": warnings,
                        "stages": stages_doc, "unreadable": unreadable}
                base = self._trees.get(name) if before is not None else None
                stages_changed = stages_file(name) in model_files
                depth = _store_model_docs(self.repo, tree, docs, base, model_doc if model_file(name) in model_files
                                          else None, rewritten, stages_changed)
                # for this one: the successor built from this snapshot's objects, only rewritten files parsed anew
                kept = {v.number: v for v in before.versions} if before is not None else {}
                model = before.model if before is not None and model_file(name) not in model_files \
                    else ModelManifest.from_dict(model_doc)
                successor = ModelState(model, tuple(
                    kept[n] if n in kept and n not in rewritten else VersionManifest.from_dict(versions[n])
                    for n in sorted(versions)), _holders(docs), _unreadable(docs))
                _carry_artifact_versions(before, successor, rewritten)
                _remember(tree, docs, successor, depth)


def _holders(docs: Mapping[str, Any]) -> StageHolders | None:
    found = docs.get("stages")
    return StageHolders.from_dict(found) if found is not None else None


def _unreadable(docs: Mapping[str, Any]) -> dict[int, tuple[str, str]]:
    return {int(n): (why[0], why[1]) for n, why in (docs.get("unreadable") or {}).items()}


def state_of(docs: Mapping[str, Any]) -> ModelState:
    """The model a folder's validated documents describe."""
    return ModelState(ModelManifest.from_dict(docs["model"]),
                      tuple(VersionManifest.from_dict(v) for v in docs["versions"]), _holders(docs), _unreadable(docs))


def _carry_artifact_versions(before: ModelState | None, after: ModelState, rewritten: dict[int, Any]) -> None:
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


# Models read or written by this process, by tree id (immutable, so never stale): the next snapshot of
# an unchanged model, or of the one a write just made, needs no parsing at all.
@dataclass(frozen=True)
class _Loaded:
    docs: dict[str, Any]   # the validated documents (model, versions, warnings)
    state: ModelState
    depth: int             # how many deltas its cache entry on disk stands on (0: a whole entry)


# registry.yaml read by this process, by blob id (immutable, and RegistryConfig is frozen)
_CONFIGS: dict[str, RegistryConfig] = {}

_LOADED: OrderedDict[str, _Loaded] = OrderedDict()
_LOADED_MAX = 64
_LATEST: dict[str, str] = {}  # model name -> the tree id of it this process read or wrote last


def _remember(tree: str, docs: dict[str, Any], state: ModelState, depth: int = 0) -> ModelState:
    _LOADED[tree] = _Loaded(docs, state, depth)
    _LOADED.move_to_end(tree)
    _LATEST[state.name] = tree
    while len(_LOADED) > _LOADED_MAX:
        _LOADED.popitem(last=False)
    return state


def _version_blobs(repo: GitRepo, tree_entries: list[Any]) -> tuple[str, str | None, dict[int, str]] | None:
    """(model.yaml's blob id, stages.yaml's or None, version number -> blob id) of a model folder laid out as
    gitreg writes it; None for anything else (a missing card, an unexpected file: the full read reports it)."""
    card = stages = None
    versions: list[Any] = []
    for entry in tree_entries:
        if entry.name == "model.yaml" and entry.mode == "100644":
            card = entry.oid
        elif entry.name == STAGES_FILE and entry.mode == "100644":
            stages = entry.oid
        elif entry.name == "versions" and entry.is_tree:
            folder = repo.read_tree(entry.oid)
            if folder is None:
                return None
            versions = folder[1]
        else:
            return None
    if card is None:
        return None
    out: dict[int, str] = {}
    for entry in versions:
        number = version_file_number(entry.name)
        if number is None or entry.mode != "100644":
            return None
        out[number] = entry.oid
    return card, stages, out


def _cached_successor(repo: GitRepo, name: str, tree: str) -> ModelState | None:
    """The model at folder ``tree`` from the cache: the deltas other writers stored on their way from a state
    of it this process knows (or from a whole entry).  No manifest is parsed, and only versions whose
    documents differ from the last state of the model this process knows are built anew.  None if the
    cache holds nothing for ``tree``."""
    chain: list[dict[str, Any]] = []
    key = tree
    known = None
    while True:
        entry = cache_get(repo, key) if len(chain) <= CHAIN_MAX else None
        if not isinstance(entry, dict):
            return None
        chain.append(entry)
        base = entry.get("base")
        if not isinstance(base, str):
            break  # a whole entry: the chain starts here
        known = _LOADED.get(base)
        if known is not None and known.state.name == name:
            break
        key = base
    try:
        if "base" in chain[-1]:
            assert known is not None
            start, deltas = known.docs, chain
        else:
            start, deltas = chain[-1], chain[:-1]
            latest = _LATEST.get(name)
            known = _LOADED.get(latest) if latest is not None else None
        docs = _apply_deltas(start, deltas)
        model_doc = docs["model"]
        if model_doc["name"] != name or any(d["model"] != name for d in docs["versions"]):
            return None
        reuse = known is not None and known.state.name == name
        # the ignores: reuse implies known is not None, which mypy does not see through the bool
        old_docs = {d["number"]: d for d in known.docs["versions"]} if reuse else {}  # type: ignore[union-attr]
        kept = {v.number: v for v in known.state.versions} if reuse else {}  # type: ignore[union-attr]
        model = (known.state.model if reuse and model_doc == known.docs["model"]  # type: ignore[union-attr]
                 else ModelManifest.from_dict(model_doc))
        built = []
        for doc in docs["versions"]:
            old = old_docs.get(doc["number"])
            same = old is not None and (old is doc or old == doc) and doc["number"] in kept
            built.append(kept[doc["number"]] if same else VersionManifest.from_dict(doc))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return _remember(tree, docs, ModelState(model, tuple(built), _holders(docs), _unreadable(docs)),
                     int(chain[0].get("depth") or 0))


def _successor_of_known(repo: GitRepo, name: str, tree: str, entries: list[Any]) -> ModelState | None:
    """The model at folder ``tree``, built from the last state of it this process knows (another writer's
    change since): only the manifests whose blob ids differ are parsed and validated, the rest reused.
    None when there is no such state, or anything about the change needs the full read to report it."""
    previous = _LATEST.get(name)
    known = _LOADED.get(previous) if previous is not None else None
    if known is None or known.state.name != name or known.state.unreadable:
        return None
    old_tree = repo.read_tree(previous)  # type: ignore[arg-type]  # known came from previous
    if old_tree is None:
        return None
    old, new = _version_blobs(repo, old_tree[1]), _version_blobs(repo, entries)
    if old is None or new is None:
        return None
    changed = [n for n, oid in new[2].items() if old[2].get(n) != oid]
    dropped = [n for n in old[2] if n not in new[2]]
    if len(changed) + len(dropped) > max(8, len(new[2]) // 2):
        return None  # most of it changed: the cache (or one full read) does it in fewer exchanges
    stages_changed = new[1] != old[1]
    wanted = ([new[0]] if new[0] != old[0] else []) + ([new[1]] if stages_changed and new[1] else []) \
        + [new[2][n] for n in changed]
    blobs = dict(zip(wanted, repo.read_blobs(wanted)))
    problems: list[Problem] = []
    model_doc = known.docs["model"]
    if new[0] != old[0]:
        model_doc = load_checked(blobs[new[0]], "model", model_file(name), problems)
        if model_doc is None or model_doc["name"] != name:
            return None
    stages_doc = known.docs.get("stages")
    if stages_changed:
        stages_doc = load_checked(blobs[new[1]], "stages", stages_file(name), problems) if new[1] else None
        if new[1] and stages_doc is None:
            return None
    versions = {d["number"]: d for d in known.docs["versions"]}
    paths = {version_file(name, n) for n in [*changed, *dropped]}
    warnings = [w for w in known.docs.get("warnings") or () if w["path"] not in paths]
    rewritten: dict[int, dict[str, Any] | None] = {}
    for number in dropped:
        versions.pop(number, None)
        rewritten[number] = None
    for number in changed:
        path = version_file(name, number)
        doc = load_checked(blobs[new[2][number]], "version", path, problems)
        if doc is None:
            return None
        try:
            check_version_doc(doc, name, number, path, problems)
        except ManifestError:
            return None
        versions[number] = rewritten[number] = doc
    if any(p.severity == "error" for p in problems):
        return None
    docs = [versions[n] for n in sorted(versions)]
    try:
        check_model_invariants(model_doc, docs, name)
    except ManifestError:
        return None
    full = {"model": model_doc, "versions": docs, "warnings": warnings + [dataclasses.asdict(p) for p in problems],
            "stages": stages_doc, "unreadable": {}}
    depth = _store_model_docs(repo, tree, full, previous, model_doc if new[0] != old[0] else None, rewritten,
                              stages_changed)
    kept = {v.number: v for v in known.state.versions}
    model = known.state.model if new[0] == old[0] else ModelManifest.from_dict(model_doc)
    return _remember(tree, full, ModelState(model, tuple(
        kept[n] if n in kept and n not in rewritten else VersionManifest.from_dict(versions[n])
        for n in sorted(versions)), _holders(full)), depth)


def _store_model_docs(repo: GitRepo, tree: str, docs: dict[str, Any], base: str | None,
                      model_doc: dict[str, Any] | None, rewritten: dict[int, dict[str, Any] | None],
                      stages_changed: bool = False) -> int:
    """Cache a model folder's validated documents for other processes; its depth (see CHAIN_MAX).

    When the documents are those of ``base`` (cached, at depth below CHAIN_MAX) with the card
    (``model_doc``, None: unchanged), stages.yaml (if ``stages_changed``) and the versions of
    ``rewritten`` (None: removed) replaced, only that difference is stored, pointing at ``base``;
    else the whole documents.
    """
    known = _LOADED.get(base) if base is not None else None
    if known is not None and known.depth < CHAIN_MAX and len(rewritten) < max(8, len(docs["versions"]) // 4) \
            and os.path.exists(_cache_file(repo, base)):  # type: ignore[arg-type]  # known came from base
        cache_put(repo, tree, {"base": base, "depth": known.depth + 1, "model": model_doc,
                               "set": [d for d in rewritten.values() if d is not None],
                               "drop": [n for n, d in rewritten.items() if d is None],
                               "warnings": docs["warnings"], "unreadable": docs["unreadable"],
                               **({"stages": docs["stages"]} if stages_changed else {})})
        return known.depth + 1
    cache_put(repo, tree, docs)
    return 0


def model_cache_get(repo: GitRepo, tree: str) -> dict[str, Any] | None:
    """The validated documents cached for the model folder ``tree`` (following deltas), or None."""
    chain: list[dict[str, Any]] = []
    key: str | None = tree
    while key is not None:
        entry = cache_get(repo, key) if len(chain) <= CHAIN_MAX else None
        if not isinstance(entry, dict):
            return None
        chain.append(entry)
        key = entry.get("base")
    try:
        whole = chain.pop()
        return {**_apply_deltas(whole, chain), "depth": len(chain)}
    except (KeyError, TypeError):
        return None


def _apply_deltas(start: dict[str, Any], deltas: list[dict[str, Any]]) -> dict[str, Any]:
    """The documents ``start`` (a model's whole documents) becomes with ``deltas`` (newest first) applied:
    model, versions in number order, and the warnings of the newest entry."""
    model_doc = start["model"]
    stages_doc = start["stages"]
    versions = {d["number"]: d for d in start["versions"]}
    for delta in reversed(deltas):
        model_doc = delta["model"] or model_doc
        stages_doc = delta.get("stages", stages_doc)
        for number in delta["drop"]:
            versions.pop(number, None)
        for doc in delta["set"]:
            versions[doc["number"]] = doc
    newest = deltas[0] if deltas else start
    return {"model": model_doc, "versions": [versions[n] for n in sorted(versions)], "stages": stages_doc,
            "warnings": newest["warnings"], "unreadable": newest["unreadable"]}


def _cache_file(repo: GitRepo, oid: str) -> str:
    from . import __version__

    return os.path.join(repo.cache_dir, f"{CACHE_FORMAT}-{__version__}", oid[:2], oid[2:] + ".json")


def cache_get(repo: GitRepo, oid: str) -> Any:
    """Validated documents stored for the git object ``oid``, or None."""
    try:
        with open(_cache_file(repo, oid), "rb") as fh:
            return json.loads(fh.read())
    except (OSError, ValueError):
        return None


def cache_put(repo: GitRepo, oid: str, value: Any) -> None:
    """Remember validated documents for ``oid`` (immutable, so never stale)."""
    path = _cache_file(repo, oid)
    tmp = f"{path}.{uuid.uuid4().hex}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(value, separators=(",", ":")))  # dumps: the C encoder (dump is pure Python)
        os.replace(tmp, path)
    except OSError:  # a cache that cannot be written is only slower
        try:
            os.unlink(tmp)
        except OSError:
            pass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the registry, located by file and field."""

    path: str
    field: str
    message: str
    severity: str = "error"  # or "warning"
    line: int | None = None  # 1-based line of the field in the file, when known
    code: str = "schema"     # the finding's stable code (see gitreg.check.FINDINGS)
    accepted: bool = False   # an error a maintainer accepted with ``--allow <code>``

    @property
    def blocking(self) -> bool:
        """An error nobody accepted: it fails the check."""
        return self.severity == "error" and not self.accepted

    def __str__(self) -> str:
        where = f"{self.path}:{self.field}" if self.field else self.path
        label = "accepted" if self.accepted else self.severity
        return f"{where}: {label}: {self.message} [{self.code}]"


def load_checked(data: bytes | None, kind: str, path: str, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        doc = parse_yaml(data or b"", path)
    except ManifestError as exc:
        problems.append(Problem(path, exc.field, exc.problem, code=getattr(exc, "code", None) or "schema"))
        return None
    found = schema_problems(kind, doc)
    problems.extend(Problem(path, f, m) for f, m in found)
    return None if found else doc


@dataclass
class ModelRead:
    """What reading one model folder found: the card, stages.yaml, the versions that read and those that do
    not.  ``fatal``: the problems that make the whole model unreadable (its card or stages.yaml, or an
    invariant across its versions); a version whose manifest does not read fails only reads of that version."""

    model: dict[str, Any] | None = None
    stages: dict[str, Any] | None = None
    versions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    unreadable: dict[int, tuple[str, str]] = dataclasses.field(default_factory=dict)
    count: int = 0  # version manifests present (readable or not)
    fatal: list[Problem] = dataclasses.field(default_factory=list)

    @property
    def readable(self) -> bool:
        return self.model is not None and not self.fatal

    def docs(self, problems: list[Problem]) -> dict[str, Any]:
        """The documents cached for the folder (``problems``: what its readable state still warns about)."""
        return {"model": self.model, "versions": self.versions, "stages": self.stages,
                "unreadable": {str(n): list(why) for n, why in self.unreadable.items()},
                "warnings": [dataclasses.asdict(p) for p in problems]}


def _one_line(problems: list[Problem]) -> tuple[str, str]:
    """(field, problem) of the first of ``problems``, saying how many more there are."""
    first = problems[0]
    more = f" (and {len(problems) - 1} more problem(s); run `gitreg check`)" if len(problems) > 1 else ""
    return first.field, first.message + more


def read_model_tree(repo: GitRepo, name: str, tree_oid: str, problems: list[Problem]) -> ModelRead:
    """Parse and validate one model folder (see :class:`ModelRead`).

    Every problem found is appended to ``problems``; ``gitreg check`` reports them all.  Only paths the
    grammar (:mod:`gitreg.layout`) names are read: any other entry is a problem and is never read.
    """
    from .layout import grammar_problem

    path = f"{MODELS_PATH}/{name}"
    read = ModelRead()
    repo.prefetch([tree_oid])  # a blob-less clone: the folder's missing files in one fetch
    children: dict[str, Any] = {}
    for entry in repo.tree_entries(tree_oid):
        where = f"{path}/{entry.name}"
        if entry.name == "versions" and entry.is_tree:
            children[entry.name] = entry
            continue
        why = grammar_problem(where, entry.mode)
        if why is None:
            children[entry.name] = entry
        else:
            problems.append(Problem(where, "", f"unexpected file: {why}; gitreg never reads it",
                                    code="unexpected-file"))
    card = children.pop("model.yaml", None)
    if card is None:
        read.fatal.append(Problem(model_file(name), "", "missing: every model folder needs a model.yaml"))
    else:
        found: list[Problem] = []
        read.model = load_checked(repo.read_blobs([card.oid])[0], "model", model_file(name), found)
        if read.model and read.model["name"] != name:
            found.append(Problem(model_file(name), "name", f"is {read.model['name']!r} but the folder is {name!r}"))
            read.model = None
        read.fatal += found
    stages = children.pop(STAGES_FILE, None)
    if stages is not None:
        found = []
        read.stages = load_checked(repo.read_blobs([stages.oid])[0], "stages", stages_file(name), found)
        read.fatal += found
    folder = children.pop("versions", None)
    entries: list[tuple[int, Any]] = []
    for entry in repo.tree_entries(folder.oid) if folder is not None else []:
        vpath = f"{path}/versions/{entry.name}"
        why = grammar_problem(vpath, entry.mode) if not entry.is_tree else "a folder; version manifests are files"
        if why is not None:
            problems.append(Problem(vpath, "", f"unexpected file: {why}; gitreg never reads it",
                                    code="unexpected-file"))
            continue
        # the ignore: a name the grammar allows in versions/ is a number
        entries.append((version_file_number(entry.name), entry))  # type: ignore[arg-type]
    read.count = len(entries)
    for (number, _entry), data in zip(entries, repo.read_blobs([e.oid for _n, e in entries])):
        vpath = version_file(name, number)
        found = []
        doc = load_checked(data, "version", vpath, found)
        if doc is not None:
            try:
                check_version_doc(doc, name, number, vpath, found)
            except ManifestError as exc:
                found.append(Problem(exc.path, exc.field, exc.problem, code=getattr(exc, "code", None) or "schema"))
                doc = None
        problems.extend(found)
        if doc is None:
            read.unreadable[number] = _one_line([p for p in found if p.severity == "error"])
        else:
            read.versions.append(doc)
    read.versions.sort(key=lambda d: d["number"])
    if read.model is not None:
        try:
            check_model_invariants(read.model, read.versions, name, read.unreadable)
        except ManifestError as exc:
            read.fatal.append(Problem(exc.path, exc.field, exc.problem))
    problems.extend(read.fatal)
    return read


def stage_problems(name: str, read: ModelRead) -> list[Problem]:
    """A readable model folder's stage conflicts, as ``stage-conflict`` errors (reads of those stages fail,
    naming the claimants and the repair; every other read works)."""
    holders = StageHolders.from_dict(read.stages) if read.stages is not None else None
    claims = stage_claims(holders, {d["number"]: d["stage"] for d in read.versions}, read.unreadable,
                          {d["number"]: d.get("aliases") or () for d in read.versions})
    out = []
    for stage, (claimants, detail) in sorted(claims.items()):
        error = AmbiguousStageError(name, stage, claimants, detail)
        out.append(Problem(stages_file(name) if read.stages is not None else version_file(name, claimants[-1]),
                           stage if read.stages is not None else "stage", error.cli_message or error.message,
                           code="stage-conflict"))
    return out


def prefetch_model_trees(repo: GitRepo, tree_oids: list[str]) -> None:
    """Ask git for many model folders at once: their trees, version trees and manifests, three exchanges in all.

    The answers stay in the repository's object reader, so that :func:`read_model_tree` on
    each of these folders then needs no round trip of its own.  A blob-less clone is completed
    first (this reads the registry as a whole).
    """
    repo.complete_clone()
    trees = [t for t in repo.reader.ask(tree_oids) if t is not None and t[1] == "tree"]
    blobs: list[str] = []
    folders: list[str] = []
    for oid, _type, body in trees:
        for entry in repo.reader.parsed(oid, body):
            if entry.name == "model.yaml" and not entry.is_tree:
                blobs.append(entry.oid)
            elif entry.name == "versions" and entry.is_tree:
                folders.append(entry.oid)
    for oid, _type, body in (t for t in repo.reader.ask(folders) if t is not None and t[1] == "tree"):
        blobs += [e.oid for e in repo.reader.parsed(oid, body) if not e.is_tree]
    repo.reader.ask(blobs)


def validated_model(repo: GitRepo, name: str, tree_oid: str, problems: list[Problem]
                    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[Problem]]:
    """A model folder's validated documents, from the cache or read (and cached) now.

    Returns (the documents, None if the model does not read; the version documents that do read; the
    problems that make the model unreadable).  Problems, warnings included, are appended to ``problems``.
    Only readable trees are cached: a tree that read once always does.
    """
    cached = model_cache_get(repo, tree_oid)
    if cached is not None and cached["model"].get("name") != name:
        cached = None  # the same tree under another folder name: validate it for this name
    if cached is not None:
        problems.extend(Problem(**w) for w in cached.get("warnings", ()))  # a cached tree still warns
        return cached, cached["versions"], []
    found: list[Problem] = []
    read = read_model_tree(repo, name, tree_oid, found)
    problems.extend(found)
    if not read.readable:
        return None, read.versions, read.fatal
    cached = read.docs(found)
    cache_put(repo, tree_oid, cached)
    return cached, read.versions, []


def check_version_doc(doc: dict[str, Any], model: str, number: int, path: str,
                      warnings: list[Problem] | None = None) -> None:
    """Invariants of one version manifest beyond its schema (warnings, if any, go to ``warnings``)."""
    if doc["model"] != model:
        raise ManifestError(path, "model", f"is {doc['model']!r} but the folder is {model!r}")
    if doc["number"] != number:
        raise ManifestError(path, "number", f"is {doc['number']} but the file is {number}.yaml")
    label = doc["name"]
    if label != str(number) and (label.isdigit() or label.lower() in RESERVED_VERSION_NAMES):
        raise ManifestError(path, "name", f"{label!r} is a number or a stage word, not a version name")
    if warnings is not None and label[:1] in ("v", "V") and label[1:].isascii() and label[1:].isdigit():
        # written before `v<N>` meant version N: a lookup by this name now finds that number instead
        warnings.append(Problem(path, "name", f"{label!r} reads as version {int(label[1:])}, not as this"
                                f" version's name: rename it (`gitreg model version update {model} {number}"
                                " --name NEW`)"))
    seen = set()
    for i, link in enumerate(doc.get("artifacts") or ()):
        key = (link["name"], link["version"])
        if key in seen:
            raise ManifestError(path, f"artifacts.{i}", f"artifact {link['name']} v{link['version']} is linked twice")
        seen.add(key)
        _check_code_marker(link, f"artifacts.{i}.executes_code", path, warnings)


def _check_code_marker(link: dict[str, Any], field: str, path: str, warnings: list[Problem] | None) -> None:
    """``executes_code`` must say what the format does (the loader itself goes by the format).

    Links in the code formats that gitreg wrote before the marker existed
    (pickle, sklearn, pandas, torch) may lack it: a warning, so that old
    registries stay readable; any other disagreement is an error.
    """
    from .materializers import LEGACY_UNMARKED_FORMATS, executes_code

    fmt, flag = link["format"], link.get("executes_code")
    if executes_code(fmt):
        if flag is True:
            return
        if flag is None and fmt in LEGACY_UNMARKED_FORMATS:
            if warnings is not None:
                warnings.append(Problem(path, field, f"missing: format {fmt!r} runs code when loaded; add"
                                        " `executes_code: true` to this link (written by an older gitreg)", "warning",
                                        code="unmarked-code-format"))
            return
        raise ManifestError(path, field, f"must be true: format {fmt!r} runs code when loaded")
    if flag is True:
        raise ManifestError(path, field, f"is true but format {fmt!r} does not run code when loaded; remove it")


def check_model_invariants(model_doc: dict[str, Any], versions: list[dict[str, Any]], name: str,
                           unreadable: Iterable[int] = ()) -> None:
    """Invariants across a model's versions: unique names, a counter at or above every number present.
    (Exclusive stages are not among them: a stage claimed twice fails reads of that stage only, see
    :func:`stage_claims`.)"""
    path = model_file(name)
    names: dict[str, int] = {}
    for doc in versions:
        vpath = version_file(name, doc["number"])
        if doc["name"] in names:
            raise ManifestError(vpath, "name", f"{doc['name']!r} is also the name of version {names[doc['name']]}")
        names[doc["name"]] = doc["number"]
    top = max([*(d["number"] for d in versions), *unreadable], default=0)
    if top and model_doc["counters"]["versions"] < top:
        raise ManifestError(path, "counters.versions", f"is {model_doc['counters']['versions']} but version {top}"
                                                       " exists")
