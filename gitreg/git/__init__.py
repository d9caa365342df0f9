"""git plumbing: the only package that runs git.

- :mod:`.objects`: git's object formats computed in-process (ids, trees, messages);
- :mod:`.process`: running a git command, and git's refusals (locks, compare-and-swap);
- :mod:`.network`: what a failed network command means; URLs safe to print;
- :mod:`.partial`: blob-less clones, their missing files fetched in one request;
- :mod:`.reader`: reading objects through one long-lived ``git cat-file --batch``;
- :mod:`.refs`: refs read from their files, listed, and moved in ``git update-ref --stdin`` transactions;
- :mod:`.config`: git's configuration and identity, remembered while what decides them stays the same;
- :mod:`.lock`: the write and sync locks that make gitreg's writers of one clone take turns;
- :mod:`.trees`: trees edited (paths written or removed) and compared in-process;
- :mod:`.worktree`: the work tree and index of the paths a write touched;
- :mod:`.index`: git's index file edited in-process when it is small and plain (else ``git update-index``);
- :mod:`.walk`: the files under a folder;
- :mod:`.repo`: :class:`GitRepo`, the handle callers hold: discovery, objects, commits, tags,
  housekeeping, delegating to the modules above.

GitPython is not used: every call it would make goes through git's own plumbing here (or, for
the objects, refs' files and a small index, git's own formats written in-process), which is what
keeps start-up and writes fast.
"""

from __future__ import annotations

from .config import Author
from .objects import BLOB_MODE, TREE_MODE, ZERO_OID, Added, TreeEntry, blob_id, clean_message
from .process import lock_held_error
from .refs import RefInfo, RefUpdate
from .repo import GitRepo

__all__ = ["BLOB_MODE", "TREE_MODE", "ZERO_OID", "Added", "Author", "GitRepo", "RefInfo", "RefUpdate", "TreeEntry",
           "blob_id",
           "clean_message", "lock_held_error"]
