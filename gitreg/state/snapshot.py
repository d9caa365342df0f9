"""A read-only view of the registry at one commit: :class:`Snapshot`, read from git objects (never the work tree).

Reading a model costs one tree lookup plus, on a miss, its manifests.  Two fast paths (see
:mod:`gitreg.fastpaths`) make the misses rare: ``model-cache`` (validated documents on disk, see
:mod:`.cache`) and ``state-memo`` (what this process read or wrote of the repository, see :mod:`.memo`);
with their references selected, every read parses and validates the manifests.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import Any

from ..errors import ManifestError, ModelNotFoundError, NotARegistryError
from ..fastpaths import fast
from ..git import GitRepo
from ..layout import (
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
from ..manifests import ModelManifest, RegistryConfig, VersionManifest, load_registry, parse_yaml
from ..names import is_valid_name
from .cache import CHAIN_MAX, apply_deltas, cache_file, cache_get, cache_put, store_model_docs, validated_model
from .memo import StateMemo, memo_of
from .model import ModelState, carry_artifact_versions, holders_of, state_of, unreadable_of
from .validation import Problem, check_model_invariants, check_version_doc, load_checked


class Snapshot:
    """Read-only view of the registry at ``commit`` (None: the branch is unborn)."""

    def __init__(self, repo: GitRepo, commit: str | None) -> None:
        self.repo = repo
        self.commit = commit
        self._config: RegistryConfig | None = None
        self._models: dict[str, ModelState | None] = {}
        self._docs: dict[str, dict[str, Any]] = {}  # validated documents behind _models
        self._trees: dict[str, str] = {}  # model -> its folder's tree id at this commit (the models read)
        self.memo = memo_of(repo)

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
            known = self.memo.config(blob[0])
            if known is not None:
                self._config = known
                return known
            cached = cache_get(self.repo, blob[0], "model-cache")
            if cached is not None:
                self._config = RegistryConfig.from_dict(cached)
            else:
                self._config = load_registry(blob[1], REGISTRY_PATH)
                cache_put(self.repo, blob[0], self._config.to_dict(), "model-cache")
            self.memo.keep_config(blob[0], self._config)
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
        hit = self.memo.get(tree[0])
        if hit is not None and hit.state.name == name:  # the same tree read (or written) before in this process
            self._docs[name] = hit.docs
            self.memo.seen(name, tree[0])
            return hit.state
        # from what this process knows (the state-memo fast path), with what other writers cached since
        state = _cached_successor(self.repo, self.memo, name, tree[0]) \
            or _successor_of_known(self.repo, self.memo, name, tree[0], tree[1]) if fast("state-memo") else None
        remembered = self.memo.get(tree[0])
        if state is not None and remembered is not None:
            self._docs[name] = remembered.docs
            return state
        problems: list[Problem] = []
        read = validated_model(self.repo, name, tree[0], problems)
        cached = read.docs
        if cached is None:
            errors = read.fatal or [p for p in problems if p.severity == "error"]
            first = errors[0]
            more = f" (and {len(errors) - 1} more problem(s); run `gitreg check`)" if len(errors) > 1 else ""
            raise ManifestError(first.path, first.field, first.message + more, code=first.code)
        self._docs[name] = cached
        return self.memo.remember(tree[0], cached, state_of(cached), int(cached.get("depth") or 0))

    def seed_successor(self, commit: str, files: dict[str, bytes | None]) -> None:
        """Cache the models of ``commit``, made from this snapshot by writing ``files``.

        The written bytes were validated when they were dumped, so the next read
        of these models (in any process) needs no parsing of unchanged manifests.
        The cache entry for another process is a delta on this snapshot's entry (only the
        rewritten manifests), so what a write stores does not grow with the model's versions.
        Nothing to do with the ``state-memo`` and ``model-cache`` fast paths both off.
        """
        if not fast("state-memo") and not fast("model-cache"):
            return
        changed: dict[str, dict[str, bytes | None]] = {}
        prefix = MODELS_PATH + "/"
        for path, data in files.items():
            if path.startswith(prefix):
                changed.setdefault(path[len(prefix):].split("/", 1)[0], {})[path] = data
        for name, model_files in changed.items():
            tree = self.repo.resolve(f"{commit}:{model_path(name)}")
            if tree is None or (self.memo.get(tree) is not None and os.path.exists(cache_file(self.repo, tree))):
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
                    model_doc = parse_yaml(data, path) if data is not None else None
                    continue
                if path == stages_file(name):
                    stages_doc = parse_yaml(data, path) if data is not None else None
                    continue
                number = version_number(path)
                if number is None:
                    continue
                unreadable.pop(str(number), None)
                if data is None:
                    versions.pop(number, None)
                    rewritten[number] = None
                else:
                    versions[number] = rewritten[number] = parse_yaml(data, path)
                    found: list[Problem] = []
                    check_version_doc(versions[number], name, number, path, found)
                    warnings += [dataclasses.asdict(w) for w in found]
            if model_doc is not None:
                docs = {"model": model_doc, "versions": [versions[n] for n in sorted(versions)], "warnings": warnings,
                        "stages": stages_doc, "unreadable": unreadable}
                base = self._trees.get(name) if before is not None else None
                known = self.memo.get(base)
                stages_changed = stages_file(name) in model_files
                depth = store_model_docs(self.repo, tree, docs, base, known.depth if known is not None else None,
                                         model_doc if model_file(name) in model_files else None, rewritten,
                                         stages_changed)
                # for this one: the successor built from this snapshot's objects, only rewritten files parsed anew
                kept = {v.number: v for v in before.versions} if before is not None else {}
                model = before.model if before is not None and model_file(name) not in model_files \
                    else ModelManifest.from_dict(model_doc)
                successor = ModelState(model, tuple(
                    kept[n] if n in kept and n not in rewritten else VersionManifest.from_dict(versions[n])
                    for n in sorted(versions)), holders_of(docs), unreadable_of(docs))
                carry_artifact_versions(before, successor, rewritten)
                self.memo.remember(tree, docs, successor, depth)



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


def _cached_successor(repo: GitRepo, memo: StateMemo, name: str, tree: str) -> ModelState | None:
    """The model at folder ``tree`` from the cache: the deltas other writers stored on their way from a state
    of it this process knows (or from a whole entry).  No manifest is parsed, and only versions whose
    documents differ from the last state of the model this process knows are built anew.  None if the
    cache holds nothing for ``tree``."""
    chain: list[dict[str, Any]] = []
    key = tree
    known = None
    while True:
        entry = cache_get(repo, key, "model-cache") if len(chain) <= CHAIN_MAX else None
        if not isinstance(entry, dict):
            return None
        chain.append(entry)
        base = entry.get("base")
        if not isinstance(base, str):
            break  # a whole entry: the chain starts here
        known = memo.get(base)
        if known is not None and known.state.name == name:
            break
        key = base
    try:
        if "base" in chain[-1]:
            assert known is not None
            start, deltas = known.docs, chain
        else:
            start, deltas = chain[-1], chain[:-1]
            last = memo.last_known(name)
            known = last[1] if last is not None else None
        docs = apply_deltas(start, deltas)
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
    return memo.remember(tree, docs, ModelState(model, tuple(built), holders_of(docs), unreadable_of(docs)),
                     int(chain[0].get("depth") or 0))


def _successor_of_known(repo: GitRepo, memo: StateMemo, name: str, tree: str,
                        entries: list[Any]) -> ModelState | None:
    """The model at folder ``tree``, built from the last state of it this process knows (another writer's
    change since): only the manifests whose blob ids differ are parsed and validated, the rest reused.
    None when there is no such state, or anything about the change needs the full read to report it."""
    if not fast("state-memo"):
        return None
    last = memo.last_known(name)
    if last is None or last[1].state.unreadable:
        return None
    previous, known = last
    old_tree = repo.read_tree(previous)
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
    depth = store_model_docs(repo, tree, full, previous, known.depth, model_doc if new[0] != old[0] else None,
                             rewritten, stages_changed)
    kept = {v.number: v for v in known.state.versions}
    model = known.state.model if new[0] == old[0] else ModelManifest.from_dict(model_doc)
    return memo.remember(tree, full, ModelState(model, tuple(
        kept[n] if n in kept and n not in rewritten else VersionManifest.from_dict(versions[n])
        for n in sorted(versions)), holders_of(full)), depth)


