"""The registry's cache on disk, under the git dir: validated documents by the id of the git object they
were read from (immutable, so never stale; safe to delete: a cache is only a cache).

A model folder's entry is either its whole documents or a delta on another folder's entry (what a write
changed), at most :data:`CHAIN_MAX` deep.  Each kind of entry belongs to a fast path (see
:mod:`gitreg.fastpaths`): with its reference selected, nothing is read from or written to the cache.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..fastpaths import fast
from .validation import Problem, read_model_tree

if TYPE_CHECKING:
    from ..git import GitRepo

CACHE_FORMAT = "m5"  # m3: deltas on another entry; m4: stages.yaml and unreadable versions; m5: YAML-only values
CHAIN_MAX = 16  # a model's cache entry is a delta on its predecessor's at most this many times in a row


def store_model_docs(repo: GitRepo, tree: str, docs: dict[str, Any], base: str | None, base_depth: int | None,
                     model_doc: dict[str, Any] | None, rewritten: dict[int, dict[str, Any] | None],
                     stages_changed: bool = False) -> int:
    """Cache a model folder's validated documents for other processes; its depth (see CHAIN_MAX).

    When the documents are those of ``base`` (cached at ``base_depth`` below CHAIN_MAX; None: its depth is not
    known here, so a whole entry is written) with the card
    (``model_doc``, None: unchanged), stages.yaml (if ``stages_changed``) and the versions of
    ``rewritten`` (None: removed) replaced, only that difference is stored, pointing at ``base``;
    else the whole documents.
    """
    if not fast("model-cache"):
        return 0
    if base is not None and base_depth is not None and base_depth < CHAIN_MAX \
            and len(rewritten) < max(8, len(docs["versions"]) // 4) and os.path.exists(cache_file(repo, base)):
        cache_put(repo, tree, {"base": base, "depth": base_depth + 1, "model": model_doc,
                               "set": [d for d in rewritten.values() if d is not None],
                               "drop": [n for n, d in rewritten.items() if d is None],
                               "warnings": docs["warnings"], "unreadable": docs["unreadable"],
                               **({"stages": docs["stages"]} if stages_changed else {})}, "model-cache")
        return base_depth + 1
    cache_put(repo, tree, docs, "model-cache")
    return 0


def model_cache_get(repo: GitRepo, tree: str) -> dict[str, Any] | None:
    """The validated documents cached for the model folder ``tree`` (following deltas), or None."""
    chain: list[dict[str, Any]] = []
    key: str | None = tree
    while key is not None:
        entry = cache_get(repo, key, "model-cache") if len(chain) <= CHAIN_MAX else None
        if not isinstance(entry, dict):
            return None
        chain.append(entry)
        key = entry.get("base")
    try:
        whole = chain.pop()
        return {**apply_deltas(whole, chain), "depth": len(chain)}
    except (KeyError, TypeError):
        return None


def apply_deltas(start: dict[str, Any], deltas: list[dict[str, Any]]) -> dict[str, Any]:
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


def cache_file(repo: GitRepo, oid: str) -> str:
    from ..version import __version__

    return os.path.join(repo.cache_dir, f"{CACHE_FORMAT}-{__version__}", oid[:2], oid[2:] + ".json")


def cache_get(repo: GitRepo, oid: str, fast_path: str = "check-cache") -> Any:
    """Validated documents stored for the git object ``oid``, or None: always None when ``fast_path``, the fast
    path that keeps the entry (see :mod:`gitreg.fastpaths`), is off."""
    if not fast(fast_path):
        return None
    try:
        with open(cache_file(repo, oid), "rb") as fh:
            return json.loads(fh.read())
    except (OSError, ValueError):
        return None


def cache_put(repo: GitRepo, oid: str, value: Any, fast_path: str = "check-cache") -> None:
    """Remember validated documents for ``oid`` (immutable, so never stale); nothing when ``fast_path``, the fast
    path that keeps the entry, is off."""
    if not fast(fast_path):
        return
    path = cache_file(repo, oid)
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



def prefetch_model_trees(repo: GitRepo, tree_oids: list[str]) -> None:
    """Ask git for many model folders at once: their trees, version trees and manifests, three exchanges in all.

    The answers stay in the repository's object reader, so that :func:`read_model_tree` on
    each of these folders then needs no round trip of its own.  A blob-less clone is completed
    first (this reads the registry as a whole).
    """
    repo.complete_clone()
    if not fast("reader"):
        return  # the reader's reference remembers nothing: the answers would be thrown away
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


@dataclass(frozen=True)
class ValidatedModel:
    """A model folder's validated documents (see :func:`validated_model`)."""

    docs: dict[str, Any] | None     # model, versions, stages, warnings, unreadable; None: the model does not read
    versions: list[dict[str, Any]]  # the version documents that read
    fatal: list[Problem]            # what makes the model unreadable (empty when it reads)


def validated_model(repo: GitRepo, name: str, tree_oid: str, problems: list[Problem]) -> ValidatedModel:
    """A model folder's validated documents, from the cache or read (and cached) now.

    Problems, warnings included, are appended to ``problems``.  Only readable trees are cached: a tree that
    read once always does.
    """
    cached = model_cache_get(repo, tree_oid)
    if cached is not None and cached["model"].get("name") != name:
        cached = None  # the same tree under another folder name: validate it for this name
    if cached is not None:
        problems.extend(Problem(**w) for w in cached.get("warnings", ()))  # a cached tree still warns
        return ValidatedModel(cached, cached["versions"], [])
    found: list[Problem] = []
    read = read_model_tree(repo, name, tree_oid, found)
    problems.extend(found)
    if not read.readable:
        return ValidatedModel(None, read.versions, read.fatal)
    cached = read.docs(found)
    cache_put(repo, tree_oid, cached, "model-cache")
    return ValidatedModel(cached, read.versions, [])


