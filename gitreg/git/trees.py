"""Trees edited and compared: a new root tree with some paths changed (only the trees on the changed
paths are written anew), the files under some paths (``git ls-tree -r``), the files two commits
differ in (``git diff-tree -r``, which walks only the subtrees whose ids differ).

Editing trees in their order and comparing them in-process was a fast path of its own; measured
against these plain ways (benchmarks/bench_fastpaths.py, up to 10,000 models) it bought under 10% of
any operation, and went."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from ..errors import GitError
from .objects import BLOB_MODE, TREE_MODE, TreeEntry

if TYPE_CHECKING:
    from .handle import RepoHandle

_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git knows it without its object


def update_paths(repo: RepoHandle, root_tree: str | None, changes: Mapping[str, bytes | None]) -> str:
    """New root tree: ``root_tree`` with files written (bytes) or removed (None: a file or folder)."""
    return _apply(repo, root_tree, {tuple(p.split("/")): v for p, v in changes.items()}) or repo.write_tree([])


def _apply(repo: RepoHandle, tree: str | None, changes: dict[tuple[str, ...], bytes | None]) -> str | None:
    entries = {e.name: e for e in (repo.tree_entries(tree) if tree else [])}
    nested: dict[str, dict[tuple[str, ...], bytes | None]] = {}
    for parts, data in changes.items():
        if len(parts) == 1:
            if data is None:
                entries.pop(parts[0], None)
            else:
                entries[parts[0]] = TreeEntry.made(BLOB_MODE, parts[0], repo.write_blob(data))
        else:
            nested.setdefault(parts[0], {})[parts[1:]] = data
    for name, sub in nested.items():
        old = entries.get(name)
        new = _apply(repo, old.oid if old is not None and old.is_tree else None, sub)
        if new is None:
            entries.pop(name, None)
        else:
            entries[name] = TreeEntry.made(TREE_MODE, name, new)
    return repo.write_tree(list(entries.values())) if entries else None


def blobs_under_path(repo: RepoHandle, commit: str, path: str) -> Iterator[tuple[str, str]]:
    """(path, blob id) of every file at or under ``path`` at ``commit``."""
    for line in _git_lines(repo, "ls-tree", "-r", "-z", commit, "--", path):
        meta, _tab, name = line.partition("\t")
        yield name, meta.split(" ")[2]


def blobs_under(repo: RepoHandle, commit: str | None, paths: Sequence[str]) -> dict[str, str]:
    """Path -> blob id of every file under ``paths`` at ``commit``."""
    out: dict[str, str] = {}
    if not commit:
        return out
    for path in paths:
        out.update(blobs_under_path(repo, commit, path))
    return out


def changed_files(repo: RepoHandle, old: str | None, new: str, paths: Sequence[str]) -> dict[str, str | None]:
    """Files under ``paths`` that differ between two commits: path -> blob id at ``new`` (None: gone)."""
    out: dict[str, str | None] = {}
    listing = _git_lines(repo, "diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", old or _EMPTY_TREE, new,
                         "--", *paths)
    for meta, path in zip(listing[::2], listing[1::2]):
        _modes, _modes2, _old, oid, status = meta.split(" ")
        out[path] = None if status == "D" else oid
    return out


def _git_lines(repo: RepoHandle, *args: str) -> list[str]:
    """The NUL-separated records git's ``args`` print, paths taken literally."""
    res = repo.run("--literal-pathspecs", *args, check=False)
    if res.returncode != 0:
        raise GitError(f"git {args[0]} failed: {res.stderr.decode('utf-8', 'replace').strip()}; run `git fsck`")
    return [r for r in res.stdout.decode("utf-8", "surrogateescape").split("\0") if r]
