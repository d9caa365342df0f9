"""The work tree and index of a repository: what differs from a commit, and bringing paths in line.

Only the paths a write touched are ever read or written, so the cost stays with the write.
A note in the git dir remembers what gitreg itself last brought in line with the index,
so the next write's dirty check need not read the index again (any rewrite of the index by
anyone makes the note stale): the ``index-note`` fast path (see :mod:`gitreg.fastpaths`), whose
reference lists the index and reads every file each time.

Bytes are gitreg's: files are written as their blobs' bytes and index entries set to those blobs,
never passed through git's attributes (filters, line endings, encodings; gitreg pins them for
``.mcp/``, see :mod:`gitreg.attributes`).  The dirty check takes for unchanged a file that differs
from its blob only as git itself would check it out (CRLF line endings, or what the attributes'
filters give back: a clone made before the pin), and refuses to write when ``info/attributes``,
which comes before the pin, would make git store other bytes than gitreg's.
"""

from __future__ import annotations

import os
import stat as stat_module
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import GitError
from ..fastpaths import fast
from ..stamps import read_record, stat_stamp, write_record
from . import config as _config
from .objects import BLOB_MODE, TREE_MODE, ZERO_OID, blob_id
from .walk import files_under

if TYPE_CHECKING:
    from .handle import RepoHandle

NOTE = "gitreg-index-note.json"   # in the git dir: what gitreg last brought in line (never committed)
NOTE_MAX_PATHS = 256  # the folders (models) whose index entries the note vouches for
NOTE_MAX_FILES = 1000  # the stats of the files written last (the note is read and written by every write)

Stamp = tuple[int, int, int, int, int]  # size, mtime, ctime, inode, device (see stamps.stat_stamp)
Record = tuple[int, int, int, int, int, str]  # a file's stamp and the blob it held then


class WorkTree:
    def __init__(self, repo: RepoHandle) -> None:
        self.repo = repo
        self.root = repo.root
        self.bare = repo.bare
        # the note as last read or written, with its stamp
        self._note: tuple[tuple[int, ...], dict[str, Any]] | None = None
        # path -> (ctime, stat record) of each file the last set_files wrote (or found in line), taken right then
        self._fresh: dict[str, tuple[int, Stamp]] = {}
        # path -> (blob, stat) of each file a dirty check found to be that blob as git's attributes check it out
        self._converted: dict[str, tuple[str, Stamp]] = {}

    def check_paths(self, commit: str | None, paths: Sequence[str]) -> tuple[list[str], list[str], dict[str, Record]]:
        """(the files under ``paths`` whose work-tree or staged content differs from ``commit``, the folders
        and paths whose index entries were found equal to ``commit``'s, for the note, and the stat records
        of the work-tree files read and found equal, for the note too: see :func:`_file_in_line`).

        Compares blob ids of the work-tree files and of the index entries with the
        commit's tree, so the cost depends on the size of ``paths``, not of the repository.
        The index is not read at all for paths gitreg itself last brought in line with
        ``commit`` (the note), and a work-tree file whose stat is the one gitreg recorded
        for that very blob is not read either.  A path new to ``commit`` is checked through
        its folder's index entries, so that the folder is known from then on (a run record
        is a new file in ``.mcp/runs`` every time).
        """
        if self.bare or not paths:
            return [], [], {}
        self._refuse_rewriting_attributes(paths)
        note = self.index_note(commit)
        covered = note is not None and all(_under(path, note["paths"]) for path in paths)
        known: Mapping[str, Record] = (note or self._read_note() or {}).get("files") or {}
        written_before = self._index_mtime()  # a file changed before this can vouch for what is read now
        seen: dict[str, Record] = {}
        if covered and commit is not None:
            # The index matches ``commit`` here (the note): only the work tree is left to compare, and when
            # every name and every file is as recorded, that is one directory listing and one stat a file.
            paths = [p for p in paths if not self._in_line(commit, p, known, written_before, seen)]
            if not paths:
                return [], [], seen
        committed = {path: dict(self.repo.blobs_under_path(commit, path)) if commit else {} for path in paths}
        scopes: dict[str, str] = {}  # path -> what of the index to read for it
        for path in paths:
            new = not committed[path] and not os.path.lexists(os.path.join(self.root, path))
            parent = path.rpartition("/")[0]
            scopes[path] = parent if new and parent else path
        index = {} if covered else self.index_entries(sorted(set(scopes.values())))
        found: list[tuple[str, list[str]]] = []  # each path with what differs under it
        other: dict[str, str] = {}  # file -> its blob, for the files whose bytes differ from it
        for path in paths:
            staged = committed[path] if covered else _within(index, path)
            present = self.worktree_files(path)
            differ: list[str] = []
            want_of = committed[path]
            names = want_of.keys() | present.keys() | staged.keys() if staged is not want_of \
                else want_of.keys() | present.keys()
            for rel in sorted(names):
                want = want_of.get(rel)
                full = present.get(rel)
                if want is None or full is None or staged.get(rel) != want:
                    differ.append(rel)  # deleted, added, or changed in the index
                    continue
                try:
                    st = os.stat(full)  # before the read: a write after it shows in the file's stat
                    in_line = _file_in_line(rel, full, st, want, known, written_before, seen)
                except OSError:  # gone meanwhile, or a link to nowhere
                    in_line = False
                    want = ""
                if not in_line:
                    differ.append(rel)  # changed in the work tree (a file as gitreg left it is not read)
                    if want:
                        other[rel] = want
            found.append((path, differ))
        same = self._same_for_git(other) if other else set()
        dirty: list[str] = []
        verified: list[str] = []
        for path, differ in found:
            differ = [rel for rel in differ if rel not in same]
            dirty += differ
            if covered or differ:
                continue
            scope = scopes[path]
            if scope == path:
                verified.append(path)
            elif _within(index, scope) == (dict(self.repo.blobs_under_path(commit, scope)) if commit else {}):
                verified.append(scope)
        return dirty, verified, seen

    def _same_for_git(self, files: Mapping[str, str]) -> set[str]:
        """The files of ``files`` (path -> blob) whose bytes differ from their blob's but that git itself takes
        for that blob: what the attributes ask git to do between the work tree and its blobs (a filter
        driver, an encoding: see :mod:`gitreg.attributes`) gives that blob back, as in a clone made before
        gitreg pinned its attributes.  One ``git hash-object`` for them all.  Each one found is remembered with
        its stat, taken before git read it, for :meth:`rewrite_exact`."""
        stamps: dict[str, Stamp] = {}
        for rel in files:
            if "\n" not in rel and "\r" not in rel and not rel.startswith('"'):
                try:
                    stamps[rel] = stat_stamp(os.stat(os.path.join(self.root, rel)))
                except OSError:
                    pass
        if not stamps:
            return set()
        names = list(stamps)
        listing = "".join(rel + "\n" for rel in names).encode("utf-8", "surrogateescape")
        res = self.repo.run("hash-object", "--stdin-paths", input=listing, check=False)
        oids = res.stdout.decode("ascii", "replace").split()
        if res.returncode != 0 or len(oids) != len(names):
            return set()
        same = {rel for rel, oid in zip(names, oids) if oid == files[rel]}
        for rel in same:
            self._converted[rel] = (files[rel], stamps[rel])
        return same

    def _refuse_rewriting_attributes(self, paths: Sequence[str]) -> None:
        """Raise if a line of ``info/attributes``, which comes before gitreg's pinned ``.mcp/.gitattributes``,
        makes git store other bytes than gitreg writes under ``paths`` (a filter driver that runs, ``ident``,
        an encoding): git would then see gitreg's files as changed.  Line endings are no such case: gitreg's
        files hold no CR, so git stores them as they are.  One stat when there is no such file."""
        info = self.repo.common_dir / "info" / "attributes"
        try:
            if not os.stat(info).st_size:
                return
            data = info.read_bytes()
        except OSError:
            return
        try:
            top: bytes | None = (self.root / ".gitattributes").read_bytes()
        except OSError:
            top = None
        from .. import attributes as _attributes

        found = _attributes.rewriting_line(data, top, paths, lambda name: name in _config.filter_drivers(self.repo),
                                           lambda path: os.path.isdir(os.path.join(self.root, path)))
        if found is None:
            return
        line, attr, value, path = found
        try:
            shown = info.relative_to(self.root).as_posix()
        except ValueError:
            shown = str(info)
        setting = attr if value is True else f"{attr}={value}"
        raise GitError(f"{shown} line {line.number} (`{line.text}`) sets {setting} for {path}, over gitreg's own"
                       f" {_attributes.ATTRIBUTES_PATH}: git would store other bytes there than gitreg writes."
                       f" Remove that line, or add the line `.mcp/** {_attributes.REWRITING[attr]}` below it,"
                       " then retry")

    def _in_line(self, commit: str, path: str, known: Mapping[str, Record], written_before: int | None,
                 seen: dict[str, Record]) -> bool:
        """Whether the work tree under ``path`` is exactly ``commit``'s, found the quick way: the same names
        in every folder, and each file with the stat recorded for its blob (else read and hashed; settled
        ones go into ``seen``).  False as soon as anything differs or is unusual (a symlink, an executable,
        a submodule): :meth:`check_paths` then looks again the thorough way and says what differs."""
        obj = self.repo.read_object(f"{commit}:{path}")
        full = os.path.join(self.root, path)
        if obj is None:
            return not os.path.lexists(full)
        oid, otype, body = obj
        if otype == "blob":
            try:
                st = os.lstat(full)
            except OSError:
                return False
            return stat_module.S_ISREG(st.st_mode) and _file_in_line(path, full, st, oid, known, written_before,
                                                                     seen)
        if otype != "tree":
            return False
        stack = [(path, full, self.repo.reader.parsed(oid, body))]
        while stack:
            rel, folder, entries = stack.pop()
            try:
                fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                return False
            try:  # one listing, then a stat a file relative to the open folder: the cost of git's own status
                present = set(os.listdir(fd))
                if len(present) != len(entries):
                    return False  # added or removed
                for entry in entries:
                    name = entry.name
                    if name not in present:
                        return False
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    if entry.mode == TREE_MODE:
                        if not stat_module.S_ISDIR(st.st_mode):
                            return False
                        stack.append((f"{rel}/{name}", f"{folder}/{name}", self.repo.tree_entries(entry.oid)))
                        continue
                    if entry.mode != BLOB_MODE or not stat_module.S_ISREG(st.st_mode):
                        return False
                    key = f"{rel}/{name}"
                    if known.get(key) == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev,
                                          entry.oid):  # as stat_stamp: the common case, inline
                        continue
                    if not _file_in_line(key, f"{folder}/{name}", st, entry.oid, known, written_before, seen):
                        return False
            except OSError:
                return False
            finally:
                os.close(fd)
        return True

    def worktree_files(self, path: str) -> dict[str, str]:
        """Every file under ``path`` in the work tree (relative path -> full path)."""
        top = os.path.join(self.root, path)
        present: dict[str, str] = {}
        if os.path.isfile(top):
            present[path] = top
            return present
        present.update(files_under(top, path))
        return present

    def _index_mtime(self) -> int | None:
        try:
            return os.stat(self.repo.git_dir / "index").st_mtime_ns
        except OSError:
            return None

    def index_stamp(self) -> list[int] | None:
        """The index file's stamp: it changes whenever anyone rewrites the index."""
        try:
            return list(stat_stamp(os.stat(self.repo.git_dir / "index")))
        except OSError:
            return None

    def _read_note(self) -> dict[str, Any] | None:
        """The note (read again only when its file changed: any writer replaces it whole); None when the
        ``index-note`` fast path is off (its reference: every dirty check lists the index and reads every file)."""
        if not fast("index-note"):
            return None
        path = self.repo.git_dir / NOTE
        try:
            stamp = stat_stamp(os.stat(path))
        except OSError:
            return None
        if self._note is not None and self._note[0] == stamp:
            return self._note[1]
        note = read_record(path)
        if not isinstance(note, dict):
            return None
        stats = note.pop("stats", None)
        note["files"], note["lines"] = _parse_stats(stats) if isinstance(stats, str) else ({}, {})
        self._note = (stamp, note)
        return note

    def index_note(self, commit: str | None) -> dict[str, Any] | None:
        """The note of :meth:`note_index_synced` if it holds for ``commit`` and the index as it is now."""
        if commit is None:
            return None
        note = self._read_note()
        if note is not None and note.get("commit") == commit and note.get("index") == self.index_stamp() \
                and isinstance(note.get("paths"), list):
            return note
        return None

    def note_index_synced(self, commit: str, paths: Sequence[str], written: Mapping[str, str | None],
                          also: Sequence[str] = (), seen: Mapping[str, Record] = {}) -> None:
        """Remember that the index entries under ``paths`` (and ``also``) equal ``commit`` now, and the stat
        of each file of ``written`` (path -> the blob gitreg just put there; None: removed), as
        :meth:`set_files` took it when it wrote the file, and of ``seen`` (path -> a stat record of a file
        read and found equal to its blob, from :meth:`check_paths`).

        Any later rewrite of the index by anyone (git replaces the file: a new inode and
        times) makes the note's index claim stale, and the next dirty check reads the index
        again; a file's recorded stat speaks for the blob recorded with it only.
        """
        stamp = self.index_stamp()
        path = self.repo.git_dir / NOTE
        if stamp is None or not fast("index-note"):
            path.unlink(missing_ok=True)  # (with the fast path off: no note a later process could take as current)
            self._fresh = {}
            return
        old = self._read_note() or {}
        files: dict[str, Record] = dict(old.get("files") or {})
        lines: dict[str, str] = dict(old.get("lines") or {})  # each record as the note's text has it

        def put(rel: str, record: Record) -> None:
            if "\t" not in rel and "\n" not in rel:  # a path that would break a line is not remembered
                files[rel] = record
                lines[rel] = _line(rel, record)

        for rel, record in seen.items():
            if rel not in written:
                files.pop(rel, None)
                lines.pop(rel, None)
                put(rel, record)
        # A file written by set_files vouches for its blob by the stat taken as it was written, and only if
        # the index git wrote after it has a later time (the file system's clock): an edit after that stat
        # shows in the file's ctime, unless made within the same tick of a clock coarser than the index's.
        index_written = stamp[1]  # the index's modification time (see stat_stamp)
        for rel, oid in written.items():
            files.pop(rel, None)
            lines.pop(rel, None)
            fresh = self._fresh.get(rel)
            if oid is not None and fresh is not None and fresh[0] < index_written:
                put(rel, (*fresh[1], oid))
        self._fresh = {}
        if len(files) > NOTE_MAX_FILES:  # a cache, not a record: keep the files written last
            last = list(files)[-NOTE_MAX_FILES:]
            files = {rel: files[rel] for rel in last}
            lines = {rel: lines[rel] for rel in last}
        covered = list(dict.fromkeys([*also, *paths]))[-NOTE_MAX_PATHS:]  # the last ones written stay
        note = {"index": stamp, "commit": commit, "paths": covered, "files": files, "lines": lines}
        write_record(path, {"index": stamp, "commit": commit, "paths": covered, "stats": "".join(lines.values())})
        try:
            self._note = (stat_stamp(os.stat(path)), note)
        except OSError:
            self._note = None

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

    def clear_leftovers(self) -> None:
        """Remove the files (and the ``index.lock``) that a gitreg process killed while editing the index
        left behind: see :func:`.index.clear_stale_lock`."""
        from . import index as _index  # the write path's: a read does not import it

        _index.clear_stale_lock(self.repo.git_dir / "index")

    def index_locked(self) -> bool:
        """Whether ``index.lock`` exists (one that a killed gitreg process left is removed first)."""
        if not (self.repo.git_dir / "index.lock").exists():
            return False
        from . import index as _index

        return not _index.clear_stale_lock(self.repo.git_dir / "index")

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
        self._fresh = {}
        entries: dict[str, tuple[str, os.stat_result] | None] = {}  # what the index is to say of each file
        for rel, oid in files.items():
            full = self.root / rel
            if oid is None:
                if full.is_file() or full.is_symlink():
                    full.unlink()
                self.prune_empty(full.parent)
                entries[rel] = None
                continue
            data = contents.get(oid)
            if data is None:
                raise GitError(f"blob {oid} for {rel} is missing from the repository; run `git fsck`")
            try:
                st = os.lstat(full)  # before the read: a write during it changes the stat
            except OSError:
                st = None
            if st is not None and stat_module.S_ISREG(st.st_mode) and blob_id(full.read_bytes()) == oid:
                self._fresh[rel] = (st.st_ctime_ns, stat_stamp(st))
                entries[rel] = (oid, st)
                continue
            full.parent.mkdir(parents=True, exist_ok=True)
            tmp = full.with_name(f".{full.name}.gitreg-tmp")
            tmp.write_bytes(data)
            os.replace(tmp, full)
            try:
                st = os.lstat(full)  # right away: what the note may vouch for is this very write
                self._fresh[rel] = (st.st_ctime_ns, stat_stamp(st))
                entries[rel] = (oid, st)
            except OSError:
                pass
        for attempt in range(30):  # about 1.5 s for another git command to let go of the index
            done = self._update_index(files, entries)
            if done:
                if not self.pinned():
                    self._check_out([rel for rel, oid in files.items() if oid is not None])
                return True
            time.sleep(0.02 + attempt * 0.002)
        return False

    def pinned(self) -> bool:
        """Whether gitreg's pinned attributes are in the work tree: then git keeps the bytes of ``.mcp/`` as they
        are (see :mod:`gitreg.attributes`).  Not in a registry from before them, until a migration adds them."""
        from ..attributes import ATTRIBUTES_PATH, pinned_attributes

        try:
            return (self.root / ATTRIBUTES_PATH).read_bytes() == pinned_attributes()
        except OSError:
            return False

    def _check_out(self, paths: Sequence[str]) -> None:
        """Let git write ``paths`` again from their index entries, as it checks files out (line endings,
        filters, encodings), and take their stats into the index: in a registry without the pinned attributes,
        files as gitreg wrote them could be what git takes for changed (a filter that changes bytes), and an
        ordinary ``git commit -a`` would then store other bytes.  Best effort: the index holds the blobs
        already."""
        if not paths:
            return
        listing = "".join(p + "\0" for p in paths).encode("utf-8", "surrogateescape")
        self.repo.run("checkout-index", "-f", "-u", "-z", "--stdin", input=listing, check=False)
        for rel in paths:
            self._fresh.pop(rel, None)  # its stat is git's write's now, not the one taken

    def rewrite_exact(self, path: str) -> list[str]:
        """Give the work-tree files under ``path`` exactly their index entries' bytes where they hold the same
        but as git checked them out through the attributes before gitreg pinned them: CRLF line endings, or
        what this process's last dirty check found git's filters and encodings give back for that blob (the
        file unchanged since, by its stat).  Returns the files rewritten; any other file is left as it is.

        For the write that adds gitreg's pinned ``.mcp/.gitattributes`` to an existing registry (a migration):
        let that write's change name ``.mcp`` as its path (so its dirty check looks at every file there), and
        call this with ``.mcp`` once its commit is in the index and work tree (under the sync lock): from then
        on git keeps the bytes of ``.mcp/`` as they are, and would see the converted files as changed.
        """
        if self.bare:
            return []
        staged = {rel: oid for rel, oid in self.index_entries([path]).items() if oid != "conflict"}
        differ: dict[str, str] = {}
        same: set[str] = set()
        for rel, oid in staged.items():
            full = self.root / rel
            try:
                st = os.lstat(full)
                if not stat_module.S_ISREG(st.st_mode):
                    continue
                data = full.read_bytes()
            except OSError:
                continue
            if blob_id(data) == oid:
                continue
            differ[rel] = oid
            crlf = b"\r\n" in data and blob_id(data.replace(b"\r\n", b"\n")) == oid  # as _crlf_of
            if crlf or self._converted.get(rel) == (oid, stat_stamp(st)):
                same.add(rel)
        fix = {rel: differ[rel] for rel in sorted(same)}
        if fix and not self.set_files(fix):
            return []
        return list(fix)

    def _update_index(self, files: Mapping[str, str | None],
                      entries: Mapping[str, tuple[str, os.stat_result] | None]) -> bool:
        """Set the index entries of ``files`` to exactly their blob ids: in-process when the index is plain (see
        :mod:`.index`; the ``index`` fast path), with the stats taken as the files were written, else by
        ``git update-index --index-info`` (without stats: git compares those files' content the next time it
        looks).  False: the index is locked."""
        from . import index as _index
        if fast("index") and len(entries) == len(files) and "GIT_INDEX_FILE" not in os.environ \
                and _config.plain_index(self.repo) \
                and not any(value is None and os.path.lexists(self.root / rel) for rel, value in entries.items()):
            outcome = _index.update_entries(self.repo.git_dir / "index", entries)
            if outcome == _index.LOCKED:
                _index.clear_stale_lock(self.repo.git_dir / "index")
            if outcome != _index.UNSUPPORTED:
                return outcome == _index.DONE
        # The blob ids themselves, not the files read again: git would pass them through the attributes' filters.
        listing = "".join(f"{BLOB_MODE} {oid}\t{p}\0" if oid is not None else f"0 {ZERO_OID}\t{p}\0"
                          for p, oid in files.items()).encode("utf-8", "surrogateescape")
        res = self.repo.run("update-index", "-z", "--index-info", input=listing, check=False)
        if res.returncode == 0:
            return True
        err = res.stderr.decode("utf-8", "replace")
        if "index.lock" not in err:
            raise GitError(f"could not update the index for {', '.join(list(files)[:3])}: {err.strip()}")
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


def _line(rel: str, record: Record) -> str:
    """A stat record as a line of the note's text: ``path<TAB>size mtime ctime ino dev blob``.  The note is
    written by every write: a line is made once per record, and the text is their join (a fifth of the
    cost of a JSON object of the same records)."""
    return f"{rel}\t{record[0]} {record[1]} {record[2]} {record[3]} {record[4]} {record[5]}\n"


def _parse_stats(text: str) -> tuple[dict[str, Record], dict[str, str]]:
    """The records of the note's text, and their lines (anything else in the text is skipped)."""
    files: dict[str, Record] = {}
    lines: dict[str, str] = {}
    for line in text.split("\n"):
        rel, tab, rest = line.partition("\t")
        parts = rest.split(" ")
        if tab and len(parts) == 6 and all(p.isdigit() for p in parts[:5]):
            files[rel] = (int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]), parts[5])
            lines[rel] = line + "\n"
    return files, lines


def _file_in_line(rel: str, full: str, st: os.stat_result, oid: str, known: Mapping[str, Record],
                  written_before: int | None, seen: dict[str, Record]) -> bool:
    """Whether the file ``full`` (with stat ``st``) holds blob ``oid``, or the same but for CRLF line endings
    (as ``core.autocrlf`` or an ``eol`` attribute checks an LF blob out, in a clone made before gitreg pinned its
    attributes; overwriting it loses nothing): by its recorded stat, else read (and
    its stat put in ``seen`` if it changed before ``written_before``, a file time the file system gave earlier:
    any later write gives the file a later ctime, so the stat vouches for the content read now.  A file that
    changed within the clock's current tick could be written again within that tick, its size unchanged, and
    keep its stat: git's "racily clean" entries, whose content is read again next time)."""
    stamp = stat_stamp(st)
    if known.get(rel) == (*stamp, oid):
        return True
    if _blob_of(full) != oid and not _crlf_of(full, oid):
        return False
    if written_before is not None and st.st_ctime_ns < written_before:
        seen[rel] = (*stamp, oid)
    return True


def _blob_of(path: str) -> str:
    with open(path, "rb") as fh:
        return blob_id(fh.read())


def _crlf_of(path: str, oid: str) -> bool:
    """Whether the file ``path`` holds blob ``oid`` with CRLF line endings (the blob's own being LF)."""
    with open(path, "rb") as fh:
        data = fh.read()
    return b"\r\n" in data and blob_id(data.replace(b"\r\n", b"\n")) == oid


def _within(entries: Mapping[str, str], folder: str) -> dict[str, str]:
    return {p: oid for p, oid in entries.items() if p == folder or p.startswith(folder + "/")}


def _under(path: str, folders: Sequence[str]) -> bool:
    return any(path == f or path.startswith(f + "/") for f in folders)
