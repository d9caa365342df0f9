"""Blob-less clones: the files a read needs, fetched in one go.

A registry opened by URL is cloned without file contents where the git host allows it
(``--filter=blob:none``): the branch's commits and trees arrive, and a manifest's bytes are fetched
when a read needs them.  Left to itself git fetches each missing file on its own, one fetch apiece;
so before reading a model's folder gitreg asks git which of its files are missing
(``rev-list --missing=print``, which never fetches) and fetches them all in one request.  An
operation that reads the whole registry completes the clone instead: after that it is an ordinary
clone and none of this runs again.

The cached clone records that it is partial, and from which remote, in ``gitreg/partial`` under its
git folder; a clone without that file is treated as complete (git's own lazy fetching still covers
a user's partial clone of a code repository, one file at a time).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .network import classify

if TYPE_CHECKING:
    from .handle import RepoHandle

MARKER = Path("gitreg") / "partial"


def mark(common_dir: Path, remote: str) -> None:
    """Record that the clone at ``common_dir`` lacks files that ``remote`` can give."""
    path = common_dir / MARKER
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(remote + "\n", encoding="utf-8")


def promisor(common_dir: Path) -> str | None:
    """The remote a partial clone fetches its missing files from; None for a complete clone."""
    try:
        name = (common_dir / MARKER).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return name or None


def unmark(common_dir: Path) -> None:
    try:
        (common_dir / MARKER).unlink()
    except OSError:
        pass


def missing(repo: RepoHandle, tips: Sequence[str] | None) -> list[str]:
    """Ids of the objects reachable from ``tips`` (trees or commits; None: every ref) that are not
    in the repository (git lists them without fetching them)."""
    if tips is None:
        res = repo.run("rev-list", "--objects", "--missing=print", "--all", check=False)
    else:
        res = repo.run("rev-list", "--objects", "--missing=print", "--stdin",
                       input="".join(f"{tip}\n" for tip in tips).encode("ascii"), check=False)
    if res.returncode != 0:
        err = res.stderr.decode("utf-8", "replace").strip()
        raise classify(repo.remote_url(promisor(repo.common_dir) or "origin") or "origin", err,
                       "listing the registry's files")
    return [line[1:].strip() for line in res.stdout.decode("ascii", "replace").splitlines() if line.startswith("?")]


def fetch(repo: RepoHandle, remote: str, oids: Sequence[str]) -> None:
    """Fetch the objects ``oids`` from ``remote`` in one request (as git's own lazy fetch does, batched)."""
    if not oids:
        return
    # no housekeeping after it (it costs more than the fetch); the branch's own fetches do it
    res = repo.run("-c", "fetch.negotiationAlgorithm=noop", "fetch", "--quiet", "--no-tags",
                   "--no-write-fetch-head", "--recurse-submodules=no", "--no-auto-maintenance",
                   "--filter=blob:none", "--stdin", remote,
                   input="".join(f"{oid}\n" for oid in oids).encode("ascii"), check=False)
    if res.returncode != 0:
        raise classify(repo.remote_url(remote) or remote, res.stderr.decode("utf-8", "replace"),
                       f"fetching {len(oids)} registry file(s) this clone lacks")


__all__ = ["MARKER", "fetch", "mark", "missing", "promisor", "unmark"]
