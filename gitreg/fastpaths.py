"""Every fast path of gitreg, by name, and the one switch that selects the plain reference beside it.

Each fast path sits behind one interface with a reference implementation beside it: the obviously
correct way (git's plumbing commands, PyYAML's own composer, constructor and dumper, jsonschema
alone, every read parsed), slow.  Users see the same results either way: the same files written
byte for byte, the same errors with the same codes.

The switch is the environment variable ``GITREG_REFERENCE``:

- unset or empty: every fast path;
- ``all``: every reference implementation;
- a comma list of the names below (``index,yaml-reader``): those references, the other fast paths.

Call sites ask :func:`fast` (``if fast("index"): ...``).  The variable is looked up on each call
(one dict lookup) and parsed again only when its text changed, so a test may set it with
``monkeypatch.setenv`` (or start a process with it) and nothing else.  A name it does not know is
refused (InvalidValueError), so that a typo cannot leave a fast path on unnoticed.

The test suite runs both ways (``GITREG_REFERENCE=all`` in ``.ci/run``); a test that pins a detail of
a fast path itself (that no git process ran, what a cache holds) is marked ``fastpath_only`` and is
skipped when any reference is selected (``tests/conftest.py``).

Not fast paths, and so not switched: memos of pure functions of constant inputs (the schemas loaded and
their jsonschema validators, compiled regular expressions, the site's templates), object ids computed
in-process (an id is a SHA-1 of the object's bytes by definition), and the bounds every manifest read
keeps in both ways (the node and nesting limits, base-60 scalars resolved by splitting them, the linear
``uniqueItems`` check): they bound hostile input rather than save time on ordinary input.

A fast path has to buy its keep: ``benchmarks/bench_fastpaths.py`` times it against its reference, and one
that buys under 10% of every operation measured goes, leaving the plain way.  Gone so far: the hand-driven
YAML emitter (manifests are written by ``yaml.dump``), the dumped document taken back instead of parsing the
bytes a write committed, and trees edited in their order and compared in-process (``git ls-tree``,
``git diff-tree``).
"""

from __future__ import annotations

import os

ENV = "GITREG_REFERENCE"

#: name -> what the fast path does (its reference: in parentheses).
FAST_PATHS: dict[str, str] = {
    "schema-proof": "compiled predicates prove a manifest valid before jsonschema, and the values they prove are"
                    " left out of jsonschema's walk (jsonschema judges every document)",
    "yaml-reader": "manifests read into values straight from PyYAML's parser events, plain scalars resolved by"
                   " shape (PyYAML's composer builds nodes, its resolver and safe constructor make the values)",
    "index": "git's index edited in-process for the entries a write sets (git update-index --index-info)",
    "index-note": "a note in the git dir of what gitreg last brought in line lets a write's dirty check skip the"
                  " index and files unchanged since (the index is listed and every file read and hashed)",
    "reader": "objects read through one long-lived git cat-file --batch, answers by object id and parsed trees"
              " remembered (one git cat-file --batch per request, nothing remembered)",
    "objects": "blobs, trees, commits and tag objects written in-process as loose objects (git hash-object -w,"
               " git mktree, git commit-tree)",
    "refs": "refs and HEAD read from their files (loose, then packed-refs, remembered while unchanged)"
            " (git symbolic-ref, git show-ref, git for-each-ref)",
    "ref-updates": "ref transactions sent to one long-lived git update-ref --stdin (one git update-ref --stdin"
                   " per transaction)",
    "git-config": "git's configuration and identity remembered while the config files and environment stay the"
                  " same (git config and git var asked every time)",
    "model-cache": "validated model documents and registry.yaml kept on disk under the git dir, as deltas on"
                   " earlier entries (every read parses and validates)",
    "state-memo": "models and registry.yaml read or written by this process remembered by tree and blob id, and"
                  " a model another writer changed rebuilt from the last state known (every read parses)",
    "report-cache": "a check's findings remembered under the digest of everything they depend on (every check"
                    " checks)",
    "tag-proofs": "tags proven to point at the commit of their change remembered by tag object (every check"
                  " proves every tag)",
    "check-cache": "the check's other entries in the cache: each model folder's findings by tree, the tag targets"
                   " known reachable (computed every time)",
    "pipeline-clients": "a pipeline run reuses the client the last run of this process opened on the same"
                        " registry (a new client per run)",
}

_parsed: tuple[str | None, frozenset[str]] = (None, frozenset())


def fast(name: str) -> bool:
    """Whether the fast path ``name`` (one of :data:`FAST_PATHS`) is on: True unless GITREG_REFERENCE
    selects its reference."""
    raw = os.environ.get(ENV)
    if not raw:
        return True
    if raw != _parsed[0]:
        _parse(raw)
    return name not in _parsed[1]


def reference_selected() -> frozenset[str]:
    """The fast paths GITREG_REFERENCE switches to their reference now (empty: none)."""
    raw = os.environ.get(ENV)
    if not raw:
        return frozenset()
    if raw != _parsed[0]:
        _parse(raw)
    return _parsed[1]


def _parse(raw: str) -> None:
    global _parsed
    names = {part.strip() for part in raw.split(",") if part.strip()}
    if names == {"all"}:
        _parsed = (raw, frozenset(FAST_PATHS))
        return
    unknown = sorted(names - set(FAST_PATHS))
    if unknown:
        from .errors import InvalidValueError

        raise InvalidValueError(f"{ENV}={raw!r}: no fast path is named {', '.join(map(repr, unknown))}; give `all`"
                                f" or a comma list of {', '.join(FAST_PATHS)}")
    _parsed = (raw, frozenset(names))
