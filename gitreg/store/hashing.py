"""Hashing what the store reads and writes, and local objects read in place.

A local object is read where it is: verified by its stamp (unchanged since its hash matched), or
hashed alongside the read (:class:`InPlaceRead`).  Saves hash the bytes as they are written
(:class:`HashingWriter`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import ArtifactRefusedError, IntegrityError
from ..stamps import stat_stamp, write_record
from . import failures

CHUNK = 8 * 1024 * 1024
Progress = Callable[[int], None]  # called with the number of bytes just transferred
#: An object changed less than this ago is not read in place (so never stamped): a change in the
#: same tick of the file system's clock would leave its times equal (git's "racy" files).
RACY_NS = 100_000_000
PARALLEL_HASH = 4 * 1024 * 1024  # objects at least this large are hashed while they are read


def no_progress(_: int) -> None:
    pass


def size_error(uri: str, expected: int, actual: str) -> ArtifactRefusedError:
    return ArtifactRefusedError(uri, f"size mismatch (the link records {expected} bytes, the store holds {actual});"
                                     " the stored bytes or the link were changed, refusing to load")


class HashingWriter:
    """A write-only binary file that hashes what passes through it on the way to ``raw``."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._digest.update(view)
        left = view
        while left:
            written = self._raw.write(left)
            left = left[written:]
        self.size += len(view)
        return len(view)

    def tell(self) -> int:
        return self.size

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        return None

    def sha256(self) -> str:
        return self._digest.hexdigest()


def file_chunks(fh: Any, limit: int | None = None) -> Iterator[memoryview]:
    """Chunks of an open local file, read into one reused buffer (at most ``limit`` bytes)."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    left = limit
    while left is None or left > 0:
        n = fh.readinto(view if left is None or left >= CHUNK else view[:left])
        if not n:
            return
        if left is not None:
            left -= n
        yield view[:n]


def digest(chunks: Iterable[bytes | memoryview], progress: Progress = no_progress,
            sink: Callable[[Any], Any] | None = None) -> tuple[str, int]:
    """(sha256, size) of ``chunks``, passing each to ``sink`` (a copy) and ``progress``."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        if sink is not None:
            sink(chunk)
        size += len(chunk)
        progress(len(chunk))
    return digest.hexdigest(), size


def hash_file(path: str | os.PathLike[str], progress: Progress = no_progress) -> tuple[str, int]:
    with open(path, "rb") as fh:
        return digest(file_chunks(fh), progress)


class InPlaceRead:
    """A local store object read where it is: ``path`` for the reader, verified by :meth:`check`.

    With a verified stamp nothing is hashed.  Without one, the object is hashed
    from a file opened before the reader starts: in a background thread for
    large objects (the reader and the hash overlap), else at once.
    """

    def __init__(self, uri: str, path: Path, stamp: tuple[int, int, int, int, int], sha: str, size: int,
                 record: Path, fh: Any) -> None:
        self.uri = uri
        self.path = path
        self.verified = fh is None  # the stamp held: these bytes matched their hash before
        self._stamp = stamp
        self._sha = sha
        self._size = size
        self._record = record
        self._fh = fh
        self._result: tuple[str, int] | None = None
        self._error: BaseException | None = None
        self._thread = None
        if fh is not None:
            if size >= PARALLEL_HASH:
                import threading

                self._thread = threading.Thread(target=self._hash, name="gitreg-hash", daemon=True)
                self._thread.start()
            else:
                self._hash()
                self._raise_if_wrong()
                self.verified = True

    def _hash(self) -> None:
        try:
            self._result = digest(file_chunks(self._fh, self._size + 1))
        except BaseException as exc:  # re-raised in the caller's thread
            self._error = exc

    def _raise_if_wrong(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            with failures.boundary(f"cannot read {self.uri}", self.uri):
                raise self._error
        if self._result is not None:
            actual, seen = self._result
            if seen != self._size:
                raise size_error(self.uri, self._size, str(seen) if seen <= self._size else f"more than {self._size}")
            if actual != self._sha:
                raise IntegrityError(self.uri, self._sha, actual)

    def check(self) -> bool:
        """After reading ``path``: raise if the object's bytes do not match the hash; False if it
        changed while it was read (what was read is unknown: read a verified copy instead)."""
        self._raise_if_wrong()
        try:
            same = stat_stamp(os.stat(self.path)) == self._stamp
            if self._fh is not None:
                same = same and stat_stamp(os.fstat(self._fh.fileno())) == self._stamp
        except OSError:
            return False
        if same and self._result is not None:
            write_record(self._record, [str(self.path), *self._stamp])
        return same

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._fh is not None:
            self._fh.close()

    def __enter__(self) -> InPlaceRead:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
