"""Trees edited and compared in-process: a new root tree with some paths changed, the files under
some paths, the files two commits differ in (walking only the subtrees whose ids differ).

The ``trees`` fast path (see :mod:`gitreg.fastpaths`): its reference writes each changed tree's entries
for git to put in order, and lists files with ``git ls-tree -r`` and ``git diff-tree -r``."""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

from ..errors import GitError
from ..fastpaths import fast
from .objects import BLOB_MODE, TREE_MODE, TreeEntry, tree_order

if TYPE_CHECKING:
    from .repo import GitRepo


def update_paths(repo: GitRepo, root_tree: str | None, changes: Mapping[str, bytes | None]) -> str:
    """New root tree: ``root_tree`` with files written (bytes) or removed (None: a file or folder)."""
    return _apply(repo, root_tree, {tuple(p.split("/")): v for p, v in changes.items()}) or repo.write_tree([])


def _apply(repo: GitRepo, tree: str | None, changes: dict[tuple[str, ...], bytes | None]) -> str | None:
    entries = {e.name: e for e in (repo.tree_entries(tree) if tree else [])}
    # Entries kept or replaced in place keep git's order; a new name is put in its place by bisection, and
    # only a name turning between file and folder (git orders a folder as "name/") needs a whole sort.
    added: list[TreeEntry] = []
    flipped = False

    def put(entry: TreeEntry) -> None:
        nonlocal flipped
        old = entries.get(entry.name)
        if old is None:
            added.append(entry)
        elif old.is_tree != entry.is_tree:
            flipped = True
        entries[entry.name] = entry

    nested: dict[str, dict[tuple[str, ...], bytes | None]] = {}
    for parts, data in changes.items():
        if len(parts) == 1:
            if data is None:
                entries.pop(parts[0], None)
            else:
                put(TreeEntry.made(BLOB_MODE, parts[0], repo.write_blob(data)))
        else:
            nested.setdefault(parts[0], {})[parts[1:]] = data
    for name, sub in nested.items():
        old = entries.get(name)
        new = _apply(repo, old.oid if old is not None and old.is_tree else None, sub)
        if new is None:
            entries.pop(name, None)
        else:
            put(TreeEntry.made(TREE_MODE, name, new))
    if not entries:
        return None
    if flipped or not fast("trees"):
        return repo.write_tree(list(entries.values()))
    if not added:
        return repo.write_tree(list(entries.values()), ordered=True)
    names = {e.name for e in added}
    ordered = [e for e in entries.values() if e.name not in names]
    for entry in added:
        if entries.get(entry.name) is entry:  # not removed or replaced again by a later change
            bisect.insort(ordered, entry, key=tree_order)
    return repo.write_tree(ordered, ordered=True)


def blobs_under_path(repo: GitRepo, commit: str, path: str) -> Iterator[tuple[str, str]]:
    """(path, blob id) of every file at or under ``path`` at ``commit``."""
    if not fast("trees"):
        for line in _git_lines(repo, "ls-tree", "-r", "-z", commit, "--", path):
            meta, _tab, name = line.partition("\t")
            yield name, meta.split(" ")[2]
        return
    obj = repo.read_object(f"{commit}:{path}")
    if obj is None:
        return
    oid, otype, body = obj
    if otype == "blob":
        yield path, oid
    elif otype == "tree":
        stack = [(path, repo.reader.parsed(oid, body))]
        while stack:
            prefix, entries = stack.pop()
            for e in entries:
                if e.is_tree:
                    stack.append((f"{prefix}/{e.name}", repo.tree_entries(e.oid)))
                else:
                    yield f"{prefix}/{e.name}", e.oid


def blobs_under(repo: GitRepo, commit: str | None, paths: Sequence[str]) -> dict[str, str]:
    """Path -> blob id of every file under ``paths`` at ``commit``."""
    out: dict[str, str] = {}
    for path in paths if commit else ():
        out.update(blobs_under_path(repo, commit, path))  # type: ignore[arg-type]
    return out


def changed_files(repo: GitRepo, old: str | None, new: str, paths: Sequence[str]) -> dict[str, str | None]:
    """Files under ``paths`` that differ between two commits: path -> blob id at ``new`` (None: gone).

    Walks only the subtrees whose ids differ, so a write's cost stays with what it changed.
    """
    out: dict[str, str | None] = {}
    if not fast("trees"):
        listing = _git_lines(repo, "diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", old or _EMPTY_TREE, new,
                             "--", *paths)
        for meta, path in zip(listing[::2], listing[1::2]):
            _modes, _modes2, _old, oid, status = meta.split(" ")
            out[path] = None if status == "D" else oid
        return out
    for path in paths:
        a = repo.read_object(f"{old}:{path}") if old else None
        b = repo.read_object(f"{new}:{path}")
        _diff(repo, path, a, b, out)
    return out


def _diff(repo: GitRepo, path: str, a: tuple[str, str, bytes] | None, b: tuple[str, str, bytes] | None,
          out: dict[str, str | None]) -> None:
    if a is not None and b is not None and a[0] == b[0]:
        return
    a_tree = {e.name: e for e in repo.reader.parsed(a[0], a[2])} if a is not None and a[1] == "tree" else {}
    b_tree = {e.name: e for e in repo.reader.parsed(b[0], b[2])} if b is not None and b[1] == "tree" else {}
    if b is not None and b[1] == "blob":
        out[path] = b[0]
    elif a is not None and a[1] == "blob":
        out[path] = None
    for name in sorted(set(a_tree) | set(b_tree)):
        ea, eb = a_tree.get(name), b_tree.get(name)
        if ea is not None and eb is not None and ea.oid == eb.oid:
            continue
        _diff(repo, f"{path}/{name}", repo.read_object(ea.oid) if ea else None,
              repo.read_object(eb.oid) if eb else None, out)


_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git knows it without its object


def _git_lines(repo: GitRepo, *args: str) -> list[str]:
    """The NUL-separated records git's ``args`` print, paths taken literally (the ``trees`` reference)."""
    res = repo.run("--literal-pathspecs", *args, check=False)
    if res.returncode != 0:
        raise GitError(f"git {args[0]} failed: {res.stderr.decode('utf-8', 'replace').strip()}; run `git fsck`")
    return [r for r in res.stdout.decode("utf-8", "surrogateescape").split("\0") if r]
