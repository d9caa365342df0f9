"""The work tree and index of a repository: what differs from a commit, and bringing paths in line.

Only the paths a write touched are ever read or written, so the cost stays with the write.
A note in the git dir remembers what gitreg itself last brought in line with the index,
so the next write's dirty check need not read the index again (any rewrite of the index by
anyone makes the note stale).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from ..errors import GitError
from ..stamps import read_record, stat_stamp, write_record
from .objects import blob_id

if TYPE_CHECKING:
    from .repo import GitRepo


class WorkTree:
    def __init__(self, repo: "GitRepo") -> None:
        self.repo = repo
        self.root = repo.root
        self.bare = repo.bare

    def dirty_paths(self, commit: str | None, paths: Sequence[str]) -> list[str]:
        """Files under ``paths`` whose work-tree or staged (index) content differs from ``commit``.

        Compares blob ids of the work-tree files and of the index entries with the
        commit's tree, so the cost depends on the size of ``paths``, not of the repository.
        """
        if self.bare or not paths:
            return []
        # Unchanged since gitreg itself brought these paths in line with ``commit``: staged == committed.
        note = self.index_note(commit, paths)
        index = {} if note is not None else self.index_entries(paths)
        stats = note.get("files", {}) if note is not None else {}
        dirty: list[str] = []
        for path in paths:
            committed = dict(self.repo.blobs_under_path(commit, path)) if commit else {}
            staged = committed if note is not None else \
                {p: oid for p, oid in index.items() if p == path or p.startswith(path + "/")}
            present = self.worktree_files(path)
            for rel in sorted(set(committed) | set(present) | set(staged)):
                want = committed.get(rel)
                if want is None or staged.get(rel) != want or rel not in present:
                    dirty.append(rel)  # deleted, added, or changed in the index
                elif stats.get(rel) != _file_stat(present[rel]) and blob_id(present[rel].read_bytes()) != want:
                    dirty.append(rel)  # changed in the work tree (a file untouched since gitreg wrote it is not)
        return dirty

    def worktree_files(self, path: str) -> dict[str, Path]:
        """Every file under ``path`` in the work tree (relative path -> full path)."""
        local = self.root / path
        present: dict[str, Path] = {}
        if local.is_file():
            present[path] = local
        elif local.is_dir():
            for folder, _dirs, files in os.walk(local):
                for name in files:
                    full = Path(folder) / name
                    present[full.relative_to(self.root).as_posix()] = full
        return present

    def _index_stat(self) -> list[int] | None:
        try:
            return list(stat_stamp(os.stat(self.repo.git_dir / "index")))
        except OSError:
            return None

    def note_index_synced(self, commit: str, paths: Sequence[str]) -> None:
        """Remember that the index entries under ``paths`` equal ``commit`` now (gitreg just wrote them).

        Any later rewrite of the index by anyone (git replaces the file: a new inode and
        times) makes the note stale, and the next dirty check reads the index again.
        """
        stamp = self._index_stat()
        note = self.repo.git_dir / "gitreg-index-note.json"
        try:
            if stamp is None:
                note.unlink(missing_ok=True)
                return
            files = {rel: _file_stat(full) for path in paths for rel, full in self.worktree_files(path).items()}
        except OSError:
            return
        write_record(note, {"index": stamp, "commit": commit, "paths": sorted(paths), "files": files})

    def index_note(self, commit: str | None, paths: Sequence[str]) -> dict | None:
        """The note of :meth:`note_index_synced`, if it still holds for ``commit`` and ``paths``."""
        if commit is None:
            return None
        note = read_record(self.repo.git_dir / "gitreg-index-note.json")
        if isinstance(note, dict) and (note.get("commit") == commit and note.get("index") == self._index_stat()
                and set(paths) <= set(note.get("paths") or ())):
            return note
        return None

    def index_entries(self, paths: Sequence[str]) -> dict[str, str]:
        """Path -> blob id of the index entries under ``paths`` ("conflict" for unmerged ones)."""
        if self.bare or not paths:
            return {}
        out = self.repo.run("ls-files", "-s", "-z", "--", *paths).stdout.decode("utf-8", "surrogateescape")
        entries: dict[str, str] = {}
        for record in out.split("\0"):
            if not record:
                continue
            info, _tab, name = record.partition("\t")
            _mode, oid, stage = info.split(" ")
            entries[name] = oid if stage == "0" else "conflict"
        return entries

    def worktree_blob(self, path: str) -> str | None:
        """The blob id the work-tree file ``path`` would have (None: no such file)."""
        full = self.root / path
        return blob_id(full.read_bytes()) if full.is_file() else None

    def index_locked(self) -> bool:
        return (self.repo.git_dir / "index.lock").exists()

    def wait_for_index(self, seconds: float = 2.0) -> bool:
        """Wait up to ``seconds`` for another git command to release the index; False if it stays locked."""
        deadline = time.monotonic() + seconds
        while self.index_locked():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def set_files(self, files: Mapping[str, str | None]) -> bool:
        """Make the work tree and index entries of ``files`` equal to the given blob ids (None: remove).

        Only these paths are touched.  False (nothing in the index changed) when the
        index stayed locked by another git command.
        """
        if self.bare or not files:
            return True
        wanted = [oid for oid in files.values() if oid is not None]
        contents = dict(zip(wanted, self.repo.read_blobs(wanted)))
        for rel, oid in files.items():
            full = self.root / rel
            if oid is None:
                if full.is_file() or full.is_symlink():
                    full.unlink()
                self.prune_empty(full.parent)
                continue
            data = contents.get(oid)
            if data is None:
                raise GitError(f"blob {oid} for {rel} is missing from the repository; run `git fsck`")
            if full.is_file() and blob_id(full.read_bytes()) == oid:
                continue
            full.parent.mkdir(parents=True, exist_ok=True)
            tmp = full.with_name(f".{full.name}.gitreg-tmp")
            tmp.write_bytes(data)
            os.replace(tmp, full)
        listing = "".join(p + "\0" for p in files).encode("utf-8", "surrogateescape")
        for attempt in range(30):  # about 1.5 s for another git command to let go of the index
            res = self.repo.run("update-index", "--add", "--remove", "-z", "--stdin", input=listing, check=False)
            if res.returncode == 0:
                return True
            err = res.stderr.decode("utf-8", "replace")
            if "index.lock" not in err:
                raise GitError(f"could not update the index for {', '.join(list(files)[:3])}: {err.strip()}")
            time.sleep(0.02 + attempt * 0.002)
        return False

    def prune_empty(self, folder: Path) -> None:
        """Remove ``folder`` and its parents while empty, up to the top of the work tree."""
        root = self.root.resolve()
        while folder.resolve() != root and folder.is_dir():
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent


def _file_stat(path: Path) -> list[int]:
    """What changes when a file is written (a stamp, as a JSON record holds it)."""
    return list(stat_stamp(path.stat()))
