"""``gitreg check --base REF``: what a branch changes relative to REF, for pull-request CI;
``gitreg check --staged``: what the index would commit, relative to HEAD (the pre-commit hook).

On top of the full check of the branch (schemas, exclusive stages, names), every
change that alters what a load returns or how it is decoded, and every change to
history, is a finding with a stable code (see :data:`gitreg.check.FINDINGS`):

- history is never rewritten: REF must be an ancestor of the branch;
- ``.mcp/registry.yaml`` is not changed (its store decides where every artifact is
  read from, its tag prefix which tags prove the history);
- a registered version is immutable: its number and creation time, and its artifact
  links: none added, none removed, no field of one changed (a format flip is named as
  such).  Runs and writes link artifacts on the registry branch directly, so a pull
  request has no business carrying links for an existing version;
- a link that is added or changed, or that a new version brings, is read from the
  base's store (its content address there) and in a format whose loading runs no code;
- the types a link makes loads trust beyond its format's own (``trusted_types``) never
  change on a registered version; those of a link that is added or that a new version
  brings are listed for the reviewer (a warning);
- nothing is deleted (a model, a version, an artifact link, a run record);
- numbers are never reused: counters never go down, a new version is numbered above
  every number the base had allocated;
- a version that held a stage never goes back to ``none`` (archive it instead);
- a version is not put into an exclusive stage by the change that registers it or adds or changes
  its links: what goes to production was on the base branch, reviewed, first;
- no file is added or changed under the artifact store's path inside the repository (it is
  git-ignored: only a force-add puts bytes there, and a load would read them).

A maintainer accepts a finding deliberately with ``allow`` (``--allow CODE``);
it stays listed, as accepted.  Tags are not checked here: a pull request's
promotion is tagged after its merge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from .check import CheckReport, accept, allowed_codes, check, with_lines
from .errors import ManifestError
from .git import GitRepo
from .layout import MODELS_PATH, REGISTRY_PATH, model_file, model_path, version_file
from .names import is_valid_name
from .state.cache import validated_model
from .state.validation import Problem


def check_change(repo: GitRepo, base: str, rev: str = "HEAD", allow_delete: bool = False,
                 verify_signatures: bool = False, allow: Iterable[str] = ()) -> CheckReport:
    """The full check of ``rev`` plus every finding about what it changes since ``base``."""
    allowed = allowed_codes(allow, allow_delete)
    report = check(repo, rev, tags=False, verify_signatures=verify_signatures, allow=allowed)
    if report.commit is None:
        return report
    head = report.commit
    found: list[Problem] = []
    base_commit = repo.resolve(f"{base}^{{commit}}")
    if base_commit is None:
        found.append(Problem(base, "", "no such commit to compare with; fetch it first (e.g. `git fetch origin"
                                       " main`, and `fetch-depth: 0` in CI)", code="base-missing"))
    elif not repo.is_ancestor(base_commit, head):
        found.append(Problem(rev, "", f"does not contain {base} ({base_commit[:12]}): history was rewritten,"
                                      f" or the branch is behind; gitreg never rewrites history — merge or"
                                      f" rebase onto {base} (pull-request CI checks the merge result)",
                             code="history-rewritten"))
    elif base_commit != head:
        store, registry_findings = _compare_registry(repo, base_commit, head)
        found += registry_findings
        found += _compare_models(repo, base_commit, head, store)
        found += _compare_runs(repo, base_commit, head)
        found += _unreviewed_promotions(repo, base_commit, head)
        found += _store_files(repo, base_commit, head)
        found += _compare_attributes(repo, base_commit, head)
    said = {(p.path, p.code) for p in report.problems}  # the full check said it already (e.g. the pinned file)
    found = [p for p in found if (p.path, p.code) not in said]
    return replace(report, problems=report.problems + tuple(with_lines(repo, head, accept(found, allowed))))


def check_staged(repo: GitRepo, allow: Iterable[str] = (), verify_signatures: bool = False) -> CheckReport:
    """The full check of what the index would commit, plus what it would undo of HEAD.

    gitreg's writes commit and then bring the index in line, so an ordinary commit
    never legitimately deletes a version manifest or lowers a counter: when it would,
    the index is stale (e.g. a write died after its commit) and the commit would
    revert the registry.
    """
    allowed = allowed_codes(allow)
    tree = repo.index_tree()
    report = check(repo, tree, tags=False, verify_signatures=verify_signatures, allow=allowed)
    head = repo.commit_of("HEAD")
    if report.commit is None or head is None:
        return report
    found = _undone(repo, head, tree)
    return replace(report, problems=report.problems + tuple(with_lines(repo, tree, accept(found, allowed))))


# ---------------------------------------------------------------- reading one side

@dataclass(frozen=True)
class _Side:
    """One model at one commit: its card, its valid versions by number, the version files present."""

    card: dict[str, Any] | None
    versions: dict[int, dict[str, Any]]
    files: frozenset[str]


def _model_trees(repo: GitRepo, commit: str) -> dict[str, str]:
    tree = repo.read_tree(f"{commit}:{MODELS_PATH}")
    # a folder that is no model name is reported by the full check, not compared here
    return {e.name: e.oid for e in tree[1] if e.is_tree and is_valid_name(e.name)} if tree else {}


def _side(repo: GitRepo, name: str, tree_oid: str) -> _Side:
    ignored: list[Problem] = []  # the full check reports them
    read = validated_model(repo, name, tree_oid, ignored)
    files = repo.read_tree(f"{tree_oid}:versions")
    return _Side(read.docs["model"] if read.docs else None, {v["number"]: v for v in read.versions},
                 frozenset(e.name for e in files[1]) if files else frozenset())


# ---------------------------------------------------------------- registry.yaml

def _registry(repo: GitRepo, commit: str) -> tuple[bytes | None, dict[str, Any] | None]:
    from .manifests import parse_yaml

    blob = repo.read_blob(f"{commit}:{REGISTRY_PATH}")
    if blob is None:
        return None, None
    try:
        return blob[1], parse_yaml(blob[1], REGISTRY_PATH)
    except ManifestError:
        return blob[1], None


def _compare_registry(repo: GitRepo, base: str, head: str) -> tuple[str | None, list[Problem]]:
    """(the base's store URI, the finding for any change to registry.yaml)."""
    old_raw, old = _registry(repo, base)
    new_raw, new = _registry(repo, head)
    store = old.get("store") if old is not None and isinstance(old.get("store"), str) else None
    if old_raw == new_raw:
        return store, []
    if old is None or new is None:
        return store, [Problem(REGISTRY_PATH, "", "changed (and one side does not parse); it holds the artifact"
                                                  " store every load reads from and the tag prefix of the audit"
                                                  " trail", code="registry-changed")]
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if not keys:
        return store, []  # comments or formatting only
    said = [f"{k} {_short(old.get(k))} -> {_short(new.get(k))}" if k != "options" else "options" for k in keys]
    return store, [Problem(REGISTRY_PATH, keys[0], f"changes {', '.join(said)}: the store is where every artifact"
                                                   " is read from, the tag prefix which tags prove the history, the"
                                                   " remote where writes go; review it as such",
                           code="registry-changed")]


def _short(value: Any) -> str:
    return "(unset)" if value is None else repr(value)


# ---------------------------------------------------------------- models and versions

def _compare_models(repo: GitRepo, base: str, head: str, store: str | None) -> list[Problem]:
    problems: list[Problem] = []
    before, after = _model_trees(repo, base), _model_trees(repo, head)
    for name, oid in sorted(before.items()):
        if name not in after:
            old = _side(repo, name, oid)
            problems.append(Problem(model_file(name), "", f"model {name!r} with {len(old.versions)} version(s) was"
                                    " deleted; accept it with --allow model-deleted (or --allow-delete) if that is"
                                    " intended", code="model-deleted"))
        elif after[name] != oid:
            problems += _compare_model(name, _side(repo, name, oid), _side(repo, name, after[name]), store)
    empty = _Side(None, {}, frozenset())
    for name in sorted(set(after) - set(before)):
        problems += _compare_model(name, empty, _side(repo, name, after[name]), store)
    return problems


def _compare_model(name: str, before: _Side, after: _Side, store: str | None) -> list[Problem]:
    problems: list[Problem] = []
    if before.card and after.card:
        for key, old_value in before.card["counters"].items():
            if after.card["counters"].get(key, 0) < old_value:
                problems.append(Problem(model_file(name), f"counters.{key}",
                                        f"went down from {old_value} to {after.card['counters'].get(key, 0)};"
                                        " counters never go back, so numbers are never reused",
                                        code="counter-lowered"))
    allocated = before.card["counters"]["versions"] if before.card else 0
    for number, old in sorted(before.versions.items()):
        new = after.versions.get(number)
        path = version_file(name, number)
        if new is None and f"{number}.yaml" in after.files:
            continue  # present but invalid: the full check reports it
        if new is None:
            problems.append(Problem(path, "", f"{name} v{number} was deleted; accept it with --allow version-deleted"
                                              " (or --allow-delete) if that is intended", code="version-deleted"))
            continue
        problems += _compare_version(path, old, new, store)
    for number in sorted(set(after.versions) - set(before.versions)):
        path = version_file(name, number)
        if number <= allocated:
            problems.append(Problem(path, "number", f"{number} was already allocated (the base's counter is"
                                                    f" {allocated}); numbers are never reused: register the version"
                                                    " with gitreg", code="number-reused"))
        for i, link in enumerate(after.versions[number].get("artifacts") or []):
            problems += _risky_link(path, f"artifacts.{i}", link, store, f"new version {number}")
            problems += _trusted_types_shown(path, f"artifacts.{i}", link, f"new version {number}")
    return problems


def _compare_version(path: str, old: dict[str, Any], new: dict[str, Any], store: str | None) -> list[Problem]:
    problems: list[Problem] = []
    for key in ("model", "number", "created"):
        if old.get(key) != new.get(key):
            problems.append(Problem(path, key, f"changed from {old.get(key)!r} to {new.get(key)!r}; a registered"
                                               " version's identity is immutable", code="identity-changed"))
    if old.get("name") != new.get("name"):
        problems.append(Problem(path, "name", f"renamed from {old.get('name')!r} to {new.get('name')!r}: code that"
                                              f" loads version={new.get('name')!r} gets this version now, and"
                                              f" version={old.get('name')!r} no longer finds it",
                                code="version-renamed"))
    if old["stage"] != "none" and new["stage"] == "none":
        problems.append(Problem(path, "stage", f"moved from {old['stage']} back to none; a version that held a"
                                               " stage keeps a record of it: archive it instead",
                                code="stage-to-none"))
    problems += _compare_links(path, old.get("artifacts") or [], new.get("artifacts") or [], store)
    return problems


def _ident(link: dict[str, Any]) -> tuple[Any, Any]:
    return link.get("name"), link.get("version")


def _label(link: dict[str, Any]) -> str:
    return f"artifact {link.get('name')} v{link.get('version')}"


_LINK_DEFAULTS: dict[str, Any] = {"executes_code": False, "run": None, "step": None, "created": None}


def _compare_links(path: str, old_links: list[dict[str, Any]], new_links: list[dict[str, Any]],
                   store: str | None) -> list[Problem]:
    """Links of a registered version: none added, none removed, no field changed."""
    problems: list[Problem] = []
    unmatched = dict(enumerate(new_links))
    for link in old_links:
        match = next((i for i, now in unmatched.items() if _ident(now) == _ident(link)), None)
        if match is None:
            problems.append(Problem(path, "artifacts", f"the link to {_label(link)} was deleted; accept it with"
                                                       " --allow link-removed (or --allow-delete) if that is intended",
                                    code="link-removed"))
            continue
        now = unmatched.pop(match)
        where = f"artifacts.{match}"
        for attr in sorted(set(link) | set(now), key=_field_order):
            was, is_ = link.get(attr, _LINK_DEFAULTS.get(attr)), now.get(attr, _LINK_DEFAULTS.get(attr))
            if was == is_:
                continue
            if attr == "format":
                problems.append(Problem(path, f"{where}.format", f"{_label(link)}: format changed from {was!r} to"
                                        f" {is_!r}: the same bytes would be decoded differently; registered"
                                        " artifacts are immutable (link a new artifact version instead)",
                                        code="format-changed"))
            elif attr == "trusted_types":
                problems += _trusted_types_changed(path, f"{where}.trusted_types", link, was, is_)
            else:
                problems.append(Problem(path, f"{where}.{attr}", f"{_label(link)}: {attr} changed from {was!r} to"
                                        f" {is_!r}; registered artifacts are immutable (link a new artifact version"
                                        " instead)", code="link-changed"))
        if now != link:
            problems += _risky_link(path, where, now, store, "the changed link", before=link)
    for i, now in sorted(unmatched.items()):
        problems.append(Problem(path, f"artifacts.{i}", f"{_label(now)} was added to a registered version: its"
                                " links are immutable, and runs and writes link artifacts on the registry branch,"
                                " never through a pull request; register a new version instead", code="link-added"))
        problems += _risky_link(path, f"artifacts.{i}", now, store, "the added link")
        problems += _trusted_types_shown(path, f"artifacts.{i}", now, "the added link")
    return problems


def _field_order(attr: str) -> tuple[int, str]:
    order = ("uri", "sha256", "size", "format", "kind", "type", "external", "executes_code")
    return (order.index(attr), attr) if attr in order else (len(order), attr)


def _runs_code(link: dict[str, Any]) -> bool:
    from .materializers import executes_code

    return bool(link.get("executes_code")) or executes_code(str(link.get("format")))


def _outside_store(link: dict[str, Any], store: str | None) -> str | None:
    """Why a load of ``link`` would not read the base store's copy of its bytes, or None."""
    uri, sha = str(link.get("uri")), str(link.get("sha256"))
    if link.get("external"):
        return f"is linked in place at {uri!r}, outside the store (external: true)"
    if store is None:
        return f"reads {uri!r}, but the base has no registry.yaml naming a store"
    from .store import object_uri

    expected = object_uri(store, sha)
    if uri != expected:
        return f"reads {uri!r}, not the base store's copy of its bytes ({expected!r})"
    return None


def _risky_link(path: str, where: str, link: dict[str, Any], store: str | None, what: str,
                before: dict[str, Any] | None = None) -> list[Problem]:
    """Findings for a link that a change brings: code-executing formats and reads outside the store."""
    problems: list[Problem] = []
    if _runs_code(link) and (before is None or not _runs_code(before) or before.get("format") != link.get("format")):
        problems.append(Problem(path, f"{where}.format", f"{_label(link)} ({what}) is in format"
                                f" {link.get('format')!r}, whose loading runs code: whoever wrote those bytes runs"
                                " code wherever the version is loaded", code="executes-code"))
    outside = _outside_store(link, store)
    if outside and (before is None or _outside_store(before, store) is None or before.get("uri") != link.get("uri")):
        problems.append(Problem(path, f"{where}.uri", f"{_label(link)} ({what}) {outside}; a load reads it from"
                                " there", code="uri-outside-store"))
    return problems


# ---------------------------------------------------------------- trusted types of links

def _type_names(value: Any) -> list[str]:
    """A link's ``trusted_types`` as a sorted list of names (absent: none)."""
    return sorted({str(v) for v in value}) if isinstance(value, list) else []


def _trusted_types_changed(path: str, field: str, link: dict[str, Any], was: Any, is_: Any) -> list[Problem]:
    """An existing link whose ``trusted_types`` now name other types (their order aside): what a load of its bytes
    trusts changes."""
    old, new = _type_names(was), _type_names(is_)
    if old == new:
        return []
    added, removed = [t for t in new if t not in old], [t for t in old if t not in new]
    said = "; ".join(part for part in (f"now trusts {', '.join(added)}" if added else "",
                                       f"no longer trusts {', '.join(removed)}" if removed else "") if part)
    return [Problem(path, field, f"{_label(link)}: trusted_types changed: {said}; the types a load trusts its bytes"
                                 " to hold were recorded when they were saved and are immutable (save a new artifact"
                                 " version instead)", code="trusted-types-changed")]


def _trusted_types_shown(path: str, where: str, link: dict[str, Any], what: str) -> list[Problem]:
    """A link a change brings that makes loads trust types beyond its format's own: listed for the reviewer."""
    names = _type_names(link.get("trusted_types"))
    if not names:
        return []
    return [Problem(path, f"{where}.trusted_types", f"{_label(link)} ({what}) is loaded trusting {', '.join(names)}"
                                                    " beyond what its format trusts; check that these are the types"
                                                    " you expect such a model to hold", "warning",
                    code="trusted-types")]


# ---------------------------------------------------------------- runs

def _compare_runs(repo: GitRepo, base: str, head: str) -> list[Problem]:
    """A recorded run is history: never edited, never deleted."""
    from .pipelines.runs import RUNS_PATH

    def files(commit: str) -> dict[str, str]:
        tree = repo.read_tree(f"{commit}:{RUNS_PATH}")
        return {e.name: e.oid for e in tree[1]} if tree else {}

    problems: list[Problem] = []
    after = files(head)
    for name, oid in files(base).items():
        path = f"{RUNS_PATH}/{name}"
        if name not in after:
            problems.append(Problem(path, "", f"the record of run {name[:-5]} was deleted; accept it with --allow"
                                              " run-deleted (or --allow-delete) if that is intended",
                                    code="run-deleted"))
        elif after[name] != oid:
            problems.append(Problem(path, "", "a recorded run was edited; run records are history and never change",
                                    code="run-changed"))
    return problems


# ---------------------------------------------------------------- provenance of what is promoted

def _unreviewed_promotions(repo: GitRepo, base: str, head: str) -> list[Problem]:
    """A version the change puts into an exclusive stage, or gives an alias, that the same change registers or
    re-links."""
    from .stages import EXCLUSIVE_STAGES

    problems: list[Problem] = []
    before, after = _model_trees(repo, base), _model_trees(repo, head)
    empty = _Side(None, {}, frozenset())
    for name, oid in sorted(after.items()):
        if before.get(name) == oid:
            continue
        old = _side(repo, name, before[name]) if name in before else empty
        new = _side(repo, name, oid)
        for number, version in sorted(new.versions.items()):
            stage = version.get("stage")
            was = old.versions.get(number)
            gained = sorted(set(version.get("aliases") or ()) - set((was or {}).get("aliases") or ()))
            if stage not in EXCLUSIVE_STAGES or (was is not None and was.get("stage") == stage):
                if not gained:
                    continue  # not in an exclusive stage or a new alias, or held them at the base already
                stage = "alias " + ", ".join(f"@{a}" for a in gained)  # what deploys by alias load
            field = "aliases" if stage.startswith("alias ") else "stage"
            if was is None:
                what = "registers it" if f"{number}.yaml" not in old.files else \
                    "rewrites its manifest (which does not validate at the base)"
            else:
                relinked = _relinked(was.get("artifacts") or [], version.get("artifacts") or [])
                if not relinked:
                    continue
                what = f"adds or changes its link(s) to {', '.join(relinked)}"
            problems.append(Problem(version_file(name, number), field, f"{name} v{number} goes to {stage} in the"
                                    f" same change that {what}: those bytes were never on the base branch, so"
                                    f" nobody reviewed what {stage} would load; register (or link) in one change,"
                                    " merge it, then promote in another, or accept it with --allow"
                                    " promotes-unreviewed", code="promotes-unreviewed"))
    return problems


def _relinked(old_links: list[dict[str, Any]], new_links: list[dict[str, Any]]) -> list[str]:
    """The links of ``new_links`` that ``old_links`` do not hold exactly (added, or any field changed)."""
    def norm(link: dict[str, Any]) -> dict[str, Any]:
        return {**_LINK_DEFAULTS, **link}

    held = [norm(link) for link in old_links]
    return [_label(link)[len("artifact "):] for link in new_links if norm(link) not in held]


_STORE_LIST = 5  # paths named in a store-files-added finding


def _store_files(repo: GitRepo, base: str, head: str) -> list[Problem]:
    """Files the change adds or changes under the store's path (the base's and the head's), when the
    store is a folder inside the repository."""
    problems: list[Problem] = []
    stores: dict[str, str] = {}  # path in the repository -> the store URI as written
    for commit in (base, head):
        _raw, doc = _registry(repo, commit)
        uri = doc.get("store") if doc is not None else None
        path = _store_in_repository(repo, uri) if isinstance(uri, str) else None
        if path is not None and isinstance(uri, str):
            stores.setdefault(path, uri)
    for path, uri in stores.items():
        # the store's own folders when it is the repository's root itself (store: .)
        roots = [path] if path else ["objects", "runs"]
        changed = sorted(p for p, blob in repo.changed_files(base, head, roots).items() if blob is not None)
        parts = path.split("/") if path else []
        for depth in range(1, len(parts)):  # a file or symlink put where a folder of the store's path is
            folder = "/".join(parts[:depth])
            now = repo.read_object(f"{head}:{folder}")
            if now is not None and now[1] == "blob":
                was = repo.read_object(f"{base}:{folder}")
                if was is None or was[0] != now[0]:
                    changed.insert(0, folder)
        if not changed:
            continue
        named = ", ".join(changed[:_STORE_LIST]) + (f", ... ({len(changed)} in all)" if len(changed) > _STORE_LIST
                                                   else "")
        problems.append(Problem(path or ".", "", f"{len(changed)} file(s) added or changed under the artifact"
                                f" store's path {uri!r}: {named}; the store is ignored by git, so these were"
                                " force-added, and a load that finds its object there reads bytes no gitreg write"
                                " stored; take them out of the change (`git rm -r --cached -- <path>`), or accept"
                                " it with --allow store-files-added", code="store-files-added"))
    return problems


def _store_in_repository(repo: GitRepo, uri: str) -> str | None:
    """The store's folder as a path inside the repository ("" for its root), or None if it is elsewhere
    (an fsspec URL, an absolute path outside the repository, a relative path that climbs out of it)."""
    import os
    import posixpath
    from pathlib import Path

    text = uri[len("file://"):] if uri.startswith("file://") else uri
    if "://" in text or text.startswith("memory:") or not text.strip():
        return None
    if os.path.isabs(text):
        try:
            text = Path(text).resolve().relative_to(Path(repo.root).resolve()).as_posix()
        except (ValueError, OSError):
            return None
    text = posixpath.normpath(text)
    if text == ".." or text.startswith("../") or text.startswith("/"):
        return None
    return "" if text == "." else text


# ---------------------------------------------------------------- git attributes

def _compare_attributes(repo: GitRepo, base: str, head: str) -> list[Problem]:
    """Every ``.gitattributes`` (at any depth) whose change could reach a file under ``.mcp/`` or under the
    artifact store's folder (when it is inside the repository, at the base or the head), and any change to
    gitreg's pinned ``.mcp/.gitattributes``: attributes decide the bytes git stores and checks out, what a
    diff shows and how a merge combines changes (see :mod:`gitreg.attributes`)."""
    from .attributes import attributes_change, store_folder
    from .layout import MCP

    changed = [p for p in repo.changed_paths(base, head) if p.rsplit("/", 1)[-1] == ".gitattributes"]
    if not changed:
        return []
    folders = [MCP]
    for commit in (base, head):
        store = (_registry(repo, commit)[1] or {}).get("store")
        folder = store_folder(store, repo.root.as_posix()) if isinstance(store, str) else None
        if folder is not None and folder not in folders:
            folders.append(folder)
    problems: list[Problem] = []
    for path in changed:
        old, new = repo.read_blob(f"{base}:{path}"), repo.read_blob(f"{head}:{path}")
        why = attributes_change(path, old[1] if old else None, new[1] if new else None, folders)
        if why is not None:
            problems.append(Problem(path, "", f"{why}; review it as such", code="attributes-changed"))
    return problems


# ---------------------------------------------------------------- the index against HEAD

def _undone(repo: GitRepo, head: str, staged: str) -> list[Problem]:
    """What committing ``staged`` on top of ``head`` would revert: deleted manifests, lowered counters."""
    problems: list[Problem] = []
    before, after = _model_trees(repo, head), _model_trees(repo, staged)
    fix = "the index is stale (did a gitreg write fail after its commit?): restore it with" \
          " `git restore --staged --worktree --source=HEAD -- {path}`"
    for name, oid in sorted(before.items()):
        if after.get(name) == oid:
            continue
        if name not in after:
            problems.append(Problem(model_file(name), "", f"what is staged deletes model {name!r}, but gitreg's"
                                    f" deletes never go through the index; {fix.format(path=model_path(name))},"
                                    f" or delete it with `gitreg model delete {name}`", code="unrecorded-delete"))
            continue
        old, new = _side(repo, name, oid), _side(repo, name, after[name])
        for file in sorted(old.files - new.files, key=lambda f: (len(f), f)):
            path = f"{model_path(name)}/versions/{file}"
            problems.append(Problem(path, "", f"what is staged deletes this registered version's manifest, but"
                                    f" gitreg's deletes never go through the index; {fix.format(path=path)}, or"
                                    f" delete the version with `gitreg model version delete {name} {file[:-5]}`",
                                    code="unrecorded-delete"))
        if old.card and new.card:
            for key, value in old.card["counters"].items():
                now = new.card["counters"].get(key, 0)
                if now < value:
                    problems.append(Problem(model_file(name), f"counters.{key}", f"what is staged lowers it from"
                                            f" {value} to {now}; counters never go back, so numbers are never reused;"
                                            f" {fix.format(path=model_file(name))}", code="counter-lowered"))
    return problems
