"""The write journal: what an unfinished write leaves for the next gitreg command to finish.

Before a write moves any ref it records the commit it builds on, the commit it
makes, the ``.mcp/`` paths it changes and the tags it made as refs ahead of the
move (signed tags only: git signs them as it creates their refs).  The record is
removed once the index and work tree of those paths match the branch.  If the
process dies (or the index stays locked) in between, the next gitreg command,
read or write, finds the record under the write lock and:

- brings the index and work tree of the recorded paths in line with the branch,
  file by file, leaving alone every file the user changed since (one whose staged
  or work-tree content is neither what it was before the write nor what the branch
  holds now);
- removes the tags made ahead of a move that never happened (they point at a
  commit no branch holds, and must never be pushed).

So a write that dies after its commit can never leave a stale index behind for
the user's next ``git commit`` to revert the registry with.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import GitError
from .git import GitRepo

JOURNAL_NAME = "gitreg-pending-write.json"


@dataclass(frozen=True)
class PendingWrite:
    branch: str                  # refs/heads/<name>
    old: str | None              # the branch's commit before the write (what index and work tree held)
    new: str                     # the commit the write made
    paths: tuple[str, ...]       # .mcp/ paths whose index and work tree follow the branch
    tags: tuple[str, ...] = ()   # tag names created as refs before the branch moved (signed tags)
    # (tag name, tag object id) whose refs move with the branch: a git killed in the middle of
    # its ref transaction can have moved the branch but not every tag
    tag_objects: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Recovery:
    landed: bool                      # the recorded commit is on the branch
    synced: tuple[str, ...]           # files brought in line with the branch
    kept: tuple[str, ...]             # files left as the user changed them
    tags_removed: tuple[str, ...]     # tags of a move that never happened
    index_locked: bool = False        # the index stayed locked: the record stays for next time
    tags_made: tuple[str, ...] = ()   # tags of a commit that landed without them
    tags_blocked: tuple[str, ...] = ()  # such tags that could not be made (git's words)

    @property
    def unfinished(self) -> bool:
        """Something could not be done yet: the record stays for the next command."""
        return self.index_locked or bool(self.tags_blocked)

    def summary(self, branch: str) -> str:
        """One line for the user, or "" when there was nothing to do."""
        parts = []
        if self.synced:
            parts.append(f"brought {len(self.synced)} file(s) under .mcp/ in line with {branch}")
        if self.kept:
            shown = ", ".join(self.kept[:3]) + (" ..." if len(self.kept) > 3 else "")
            parts.append(f"left {len(self.kept)} file(s) you changed as they are ({shown})")
        if self.tags_made:
            parts.append(f"made {len(self.tags_made)} tag(s) its commit landed without"
                         f" ({', '.join(self.tags_made[:3])})")
        if self.tags_blocked:
            parts.append(f"could not make {len(self.tags_blocked)} tag(s): {self.tags_blocked[0]}")
        if self.tags_removed:
            parts.append(f"removed {len(self.tags_removed)} tag(s) of a commit that never landed"
                         f" ({', '.join(self.tags_removed[:3])})")
        if self.index_locked:
            parts.append(".git/index.lock is held, so .mcp/ in the work tree is still behind; the next gitreg"
                         " command finishes it once the lock is gone (remove it if no git command is running)")
        return ("an earlier gitreg write was interrupted: " + "; ".join(parts)) if parts else ""


def journal_path(repo: GitRepo) -> Path:
    return repo.git_dir / JOURNAL_NAME


def pending(repo: GitRepo) -> bool:
    """Whether a write left a record (one stat: cheap enough for every command)."""
    return journal_path(repo).exists()


def record(repo: GitRepo, write: PendingWrite) -> None:
    path = journal_path(repo)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"branch": write.branch, "old": write.old, "new": write.new,
                               "paths": list(write.paths), "tags": list(write.tags),
                               "tag_objects": [list(t) for t in write.tag_objects]}), encoding="utf-8")
    os.replace(tmp, path)


def clear(repo: GitRepo) -> None:
    try:
        journal_path(repo).unlink()
    except FileNotFoundError:
        pass


def read(repo: GitRepo) -> PendingWrite | None:
    try:
        doc = json.loads(journal_path(repo).read_text(encoding="utf-8"))
        return PendingWrite(str(doc["branch"]), doc["old"], str(doc["new"]), tuple(doc["paths"]),
                            tuple(doc.get("tags") or ()),
                            tuple((str(n), str(o)) for n, o in doc.get("tag_objects") or ()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        clear(repo)  # a torn record: written only before refs move, so the index still holds "old"
        return None


def recover(repo: GitRepo, write: PendingWrite, published: Callable[[str], bool]) -> Recovery:
    """Finish ``write`` (the caller holds the write lock); ``published(commit)``: it reached the remote."""
    head = repo.commit_of(write.branch)
    landed = head is not None and (head == write.new or repo.is_ancestor(write.new, head))
    removed: list[str] = []
    if not landed and not published(write.new):
        for tag in dict.fromkeys([*write.tags, *(name for name, _oid in write.tag_objects)]):
            ref = f"refs/tags/{tag}"
            if repo.commit_of(ref) == write.new and repo.delete_ref(ref):
                removed.append(tag)
    made: list[str] = []
    blocked: list[str] = []
    if landed:
        for name, oid in write.tag_objects:
            ref = f"refs/tags/{name}"
            if repo.resolve(ref) is not None:
                continue
            try:
                if repo.update_refs([(ref, oid, None)]).moved:  # finish an interrupted write
                    made.append(name)
            except GitError as exc:
                blocked.append(f"{name} ({exc})")
    synced: list[str] = []
    kept: list[str] = []
    locked = False
    if head is not None and not repo.bare and repo.head_ref() == write.branch:
        before = repo.blobs_under(write.old, write.paths)
        now = repo.blobs_under(head, write.paths)
        staged = repo.worktree.index_entries(write.paths)
        names = set(before) | set(now) | set(staged)
        for path in write.paths:
            names.update(repo.worktree.worktree_files(path))
        fix: dict[str, str | None] = {}
        for name in sorted(names):
            old, new = before.get(name), now.get(name)
            index, work = staged.get(name), repo.worktree.worktree_blob(name)
            if index == new and work == new:
                continue
            if index in (old, new) and work in (old, new):
                fix[name] = new
            else:
                kept.append(name)
        if fix:
            locked = not repo.worktree.set_files(fix)
            if not locked:
                synced = list(fix)
    return Recovery(landed, tuple(synced), tuple(kept), tuple(removed), locked, tuple(made), tuple(blocked))
