"""git's index file, edited in-process for the few entries a write sets: what ``git update-index --add
--remove`` would do to them, without starting a process (which costs more than the whole edit of an
index of up to some thousand entries: a registry's first hundreds of versions and runs).

The ``index`` fast path (see :mod:`gitreg.fastpaths`): with its reference selected, or for any index this
module does not edit, the caller runs ``git update-index --index-info``
(:meth:`gitreg.git.worktree.WorkTree.set_files`).

Only the plainest indexes are edited here, and everything else is left to git itself (the caller runs
``git update-index``): an index of version 2 or 3 with a valid checksum, no split or sparse index, no
extension that git requires readers to understand, at most :data:`MAX_ENTRIES` entries (beyond, git's
process is the faster), and entries of the paths to set that are plain (merged, no flags).  The edit
keeps git's protocol: nobody writes the index but through ``index.lock`` (made exclusively, here by a
hard link), renamed over the index.

What git does beside the entries, and how it is done here:

- entries copied unchanged whose file time is not before the old index's ("racily clean": a change
  within the index's own clock tick could hide behind an unchanged stat) get their size set to 0, as
  git does when it writes an index, so that git compares their content next time;
- the cached trees (``TREE``), the untracked cache, the file-system monitor's token and the offset
  tables are optional and dropped (git builds them again when it needs them); resolve-undo (``REUC``)
  is kept as it is.
"""

from __future__ import annotations

import hashlib
import os
import stat as stat_module
import struct
from collections.abc import Mapping
from pathlib import Path

# Beyond this, walking the entries in Python costs more than git's process: measured on a 2-core machine,
# 0.6 against 1.6 ms at 600 entries, 1.2 against 1.8 ms at 1,500, 2.3 against 1.8 ms at 3,000.
MAX_ENTRIES = 2000
_ENTRY = struct.Struct(">10I20sH")  # ctime s/ns, mtime s/ns, dev, ino, mode, uid, gid, size; id; flags
_HEADER = struct.Struct(">4sII")
_WALK = struct.Struct(">8xI12xI8xI20xH")  # of an entry: mtime seconds, mode, size, flags
_KEPT_EXTENSIONS = {b"REUC"}
_DROPPED_EXTENSIONS = {b"TREE", b"UNTR", b"FSMN", b"EOIE", b"IEOT"}
_GITLINK = 0o160000

DONE, LOCKED, UNSUPPORTED = "done", "locked", "unsupported"


class _Unsupported(Exception):
    """An index (or a change) this module leaves to git."""


def update_entries(index: Path, files: Mapping[str, tuple[str, os.stat_result] | None]) -> str:
    """Set the entries of ``files`` (path -> (blob id, the file's stat), or None: remove the entry).

    Returns :data:`DONE`, :data:`LOCKED` (``index.lock`` exists: try again; nothing was changed) or
    :data:`UNSUPPORTED` (nothing was changed: let ``git update-index`` do it).

    As git does, the index is read only once ``index.lock`` is held, and the new index is written into the
    lock and renamed over the index.  The lock is made as a hard link of a file of this process's own
    (``index.gitreg-<pid>.tmp``; a hard link, like git's exclusive create, fails if the lock exists), so
    a lock that a killed writer leaves is the same file as its leftover: :func:`clear_stale_lock`.
    """
    try:
        with open(index, "rb") as fh:  # a large index is left to git before the lock is taken
            head = fh.read(_HEADER.size)
        if len(head) < _HEADER.size or _HEADER.unpack(head)[2] > MAX_ENTRIES:
            return UNSUPPORTED
    except (OSError, struct.error):
        return UNSUPPORTED
    lock = index.with_name(index.name + ".lock")
    mine = index.with_name(f"{index.name}.gitreg-{os.getpid()}.tmp")
    try:
        fd = os.open(mine, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    except OSError:
        return UNSUPPORTED
    locked = False
    try:
        try:
            os.link(mine, lock)
        except FileExistsError:
            return LOCKED
        except OSError:
            return UNSUPPORTED  # no hard links here: git does it
        locked = True
        try:
            with open(index, "rb") as fh:
                data = fh.read()
                read = os.fstat(fh.fileno())
            new = _edited(data, read, files)
        except (_Unsupported, OSError, struct.error, ValueError):
            return UNSUPPORTED
        view = memoryview(new)
        while view:
            view = view[os.write(fd, view):]
        os.close(fd)
        fd = -1
        os.rename(lock, index)
        locked = False
        return DONE
    finally:
        if fd >= 0:
            os.close(fd)
        if locked:
            _unlink(lock)
        _unlink(mine)


def clear_stale_lock(index: Path) -> bool:
    """Remove ``index.lock`` if it is the file of a gitreg process that died before renaming it (see
    :func:`update_entries`); True if it did.  A lock of any other process is never touched."""
    lock = index.with_name(index.name + ".lock")
    cleared = False
    for leftover in index.parent.glob(f"{index.name}.gitreg-*.tmp"):
        pid = leftover.name[len(index.name) + len(".gitreg-"):-len(".tmp")]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue  # a live writer's (this process's own are removed as they are made)
        try:
            if os.path.samefile(leftover, lock):
                os.unlink(lock)
                cleared = True
        except OSError:
            pass
        _unlink(leftover)
    return cleared


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: alive
    return True


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _edited(data: bytes, index_stat: os.stat_result, files: Mapping[str, tuple[str, os.stat_result] | None]) \
        -> bytes:
    """The bytes of the index ``data`` with the entries of ``files`` set or removed.

    Entries are walked for their length, time and flags only; runs of entries copied as they are go out as
    one slice each, and names are looked at only while some path to set may still come."""
    if len(data) < _HEADER.size + 20 or hashlib.sha1(data[:-20]).digest() != data[-20:]:
        raise _Unsupported("no index, or its checksum does not match (or is not written: index.skipHash)")
    signature, version, count = _HEADER.unpack_from(data, 0)
    if signature != b"DIRC" or version not in (2, 3) or count > MAX_ENTRIES:
        raise _Unsupported("not an index of version 2 or 3 of a size worth editing here")
    racy_s = index_stat.st_mtime_ns // 10**9  # in whole seconds, as a git built without nanoseconds compares
    targets = {path.encode("utf-8", "surrogateescape"): value for path, value in files.items()}
    pending = sorted(targets)  # target names not met yet, in index order
    out: list[bytes] = [_HEADER.pack(b"DIRC", version, 0)]  # the count is put in at the end
    entries = count
    walk = _WALK.unpack_from
    copied = pos = _HEADER.size  # entries from ``copied`` to ``pos`` go out as they are
    replaced = b""  # the last name set: a second entry of it (another stage) is not handled here
    for _ in range(count):
        ms, mode, size, flags = walk(data, pos)
        name_at = pos + 62
        extended = 0
        if flags & 0x4000:  # extended flags (version 3): two more bytes before the name
            if version < 3:
                raise _Unsupported("extended flags in an index of version 2")
            extended = struct.unpack_from(">H", data, name_at)[0]
            name_at += 2
        length = flags & 0xFFF
        if length == 0xFFF:
            length = data.index(b"\0", name_at) - name_at
        end = pos + ((name_at - pos + length + 8) & ~7)
        if pending or replaced:
            name = data[name_at:name_at + length]
            if name == replaced:
                raise _Unsupported("a path to set has entries of several stages (unmerged)")
            if pending and name >= pending[0]:
                out.append(data[copied:pos])
                copied = pos
                while pending and pending[0] < name:  # new entries that sort before this one
                    entries += _put(out, pending.pop(0), targets)
                if pending and pending[0] == name:
                    if (flags >> 12) & 3 or flags & 0x8000 or extended:
                        raise _Unsupported("an entry to set is unmerged, or flagged (assume-unchanged, ...)")
                    pending.pop(0)
                    entries += _put(out, name, targets) - 1
                    replaced = name
                    copied = pos = end
                    continue
            replaced = b""
        if ms >= racy_s and size and not flags & 0x8000 and not extended and mode & 0o170000 != _GITLINK:
            out.append(data[copied:pos])  # racily clean: its size set to 0, as git does
            out.append(data[pos:pos + 36] + b"\0\0\0\0" + data[pos + 40:end])
            copied = end
        pos = end
    out.append(data[copied:pos])
    for name in pending:
        entries += _put(out, name, targets)
    out.append(_extensions(data, pos))
    out[0] = _HEADER.pack(b"DIRC", version, entries)
    body = b"".join(out)
    return body + hashlib.sha1(body).digest()


def _put(out: list[bytes], name: bytes, targets: Mapping[bytes, tuple[str, os.stat_result] | None]) -> int:
    """Add the entry of ``name`` as ``git update-index --add`` writes it (nothing for a removal); how many
    entries were added (1 or 0)."""
    value = targets[name]
    if value is None:
        return 0
    oid, st = value
    if not stat_module.S_ISREG(st.st_mode):
        raise _Unsupported("not a regular file")
    mode = 0o100755 if st.st_mode & 0o100 else 0o100644
    cs, cns = divmod(st.st_ctime_ns, 10**9)
    ms, mns = divmod(st.st_mtime_ns, 10**9)
    fields = _ENTRY.pack(cs & 0xFFFFFFFF, cns, ms & 0xFFFFFFFF, mns, st.st_dev & 0xFFFFFFFF,
                         st.st_ino & 0xFFFFFFFF, mode, st.st_uid & 0xFFFFFFFF, st.st_gid & 0xFFFFFFFF,
                         st.st_size & 0xFFFFFFFF, bytes.fromhex(oid), min(len(name), 0xFFF))
    entry = fields + name
    out.append(entry + b"\0" * (((len(entry) + 8) & ~7) - len(entry)))
    return 1


def _extensions(data: bytes, pos: int) -> bytes:
    """The extensions after the entries that stay valid after an edit of entries (see the module's text)."""
    out: list[bytes] = []
    end = len(data) - 20
    while pos < end:
        signature = data[pos:pos + 4]
        size = struct.unpack_from(">I", data, pos + 4)[0]
        if pos + 8 + size > end:
            raise _Unsupported("an extension runs past the end of the index")
        if signature in _KEPT_EXTENSIONS:
            out.append(data[pos:pos + 8 + size])
        elif signature not in _DROPPED_EXTENSIONS:
            raise _Unsupported(f"extension {signature!r}: a split or sparse index, or one this module does not know")
        pos += 8 + size
    return b"".join(out)
