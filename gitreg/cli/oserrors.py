"""An operating system's error met by a command (a file it writes, a folder it creates, a port it listens on), as
gitreg's :class:`~gitreg.errors.LocalFileError`: one line that names the path and says what to do next, exit 21.

Used by the one place errors become exit codes (:func:`gitreg.cli.app.main`).
"""

from __future__ import annotations

import errno
import os
import re

from ..errors import LocalFileError

# A scratch file a writer renames into place (``.NAME.tmp-<hex>``): named after the file it stands for.
_SCRATCH = re.compile(r"^\.(?P<name>.+)\.tmp-[0-9a-f]{8,}$")

_ELSEWHERE = "choose a place you can write to"

#: errno -> (what happened, what to do next); {path} is the file or folder concerned.
_ADVICE: dict[int, tuple[str, str]] = {
    errno.EACCES: ("permission denied", _ELSEWHERE + ", or change the folder's permissions"),
    errno.EPERM: ("operation not permitted", _ELSEWHERE),
    errno.EROFS: ("the file system is read-only", _ELSEWHERE),
    errno.ENOSPC: ("no space left on the device", "free some space, or " + _ELSEWHERE + " on another disk"),
    errno.EDQUOT: ("disk quota exceeded", "free some space, or " + _ELSEWHERE + " on another disk"),
    errno.EISDIR: ("it is a folder, where a file is wanted", "give a file's path, e.g. {path}/NAME"),
    errno.ENOTDIR: ("a part of the path is a file, where a folder is wanted", "give a path through folders only"),
    errno.ENOENT: ("no such file or folder, and it cannot be created there",
                   "create the folder above it first, or " + _ELSEWHERE),
    errno.EEXIST: ("it exists already, and is not a folder", "remove it, or " + _ELSEWHERE),
    errno.ENAMETOOLONG: ("the name is too long for the file system", "give a shorter path"),
    errno.EMFILE: ("too many open files", "raise the limit (ulimit -n) and retry"),
    errno.EADDRINUSE: ("the address is already in use", "choose another port (--port 0: any free port)"),
    errno.EADDRNOTAVAIL: ("this machine has no such address", "give one of its addresses, or 127.0.0.1"),
}


def shown_path(name: object) -> str | None:
    """The path to show for ``name``: a writer's scratch file shows as the file it stands for."""
    if name is None:
        return None
    text = os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else str(name)
    head, tail = os.path.split(text)
    match = _SCRATCH.match(tail)
    return os.path.join(head, match.group("name")) if match else text


def local_file_error(exc: OSError) -> LocalFileError:
    """``exc`` in one line: the path, what happened, what to do next."""
    # a rename names its source and its destination; the destination is what the user gave
    path = shown_path(exc.filename2 if exc.filename2 is not None else exc.filename)
    code = exc.errno
    fallback = "check the path and the disk, then retry" if path else \
        "retry; if it happens again, --traceback shows where (for a bug report)"
    plain = ((exc.strerror or str(exc) or type(exc).__name__).rstrip("."), fallback)
    what, advice = _ADVICE.get(code, plain) if code is not None else plain
    what = " ".join(what.split())
    where = f"{path}: " if path else ""
    return LocalFileError(f"{where}{what}; {advice.format(path=path or 'PATH')}", path, code)
