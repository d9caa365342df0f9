"""The write lock and the sync lock: gitreg's writers of one clone take turns (file locks in the git dir,
released if the process holding them dies). A writer takes the write lock, then the sync lock, never the
other way round."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

WRITE_LOCK_POLL = 0.002  # seconds between tries for a held lock (platforms without flock)
WRITE, SYNC = "write.lock", "sync.lock"


def write_lock(common_dir: Path, blocking: bool = True) -> AbstractContextManager[bool]:
    """Serialise gitreg writers of the clone whose common git dir is ``common_dir``: one at a time
    builds its commit and moves the refs (see :func:`file_lock`)."""
    return file_lock(common_dir, WRITE, blocking)


def sync_lock(common_dir: Path, blocking: bool = True) -> AbstractContextManager[bool]:
    """Held by a writer from just before its refs move until its work tree and index are in line (see
    :func:`file_lock`): the next writer builds its commit meanwhile, and waits only to check and land it."""
    return file_lock(common_dir, SYNC, blocking)


@contextmanager
def file_lock(common_dir: Path, name: str, blocking: bool = True) -> Iterator[bool]:
    """The lock file ``gitreg/<name>`` of the clone whose common git dir is ``common_dir``.

    Yields True once held; with ``blocking`` False, yields False at once when
    another process holds it.  A waiting writer sleeps in the kernel (``flock``) until the
    holder lets go, instead of polling: writers queued behind a busy clone take over at once
    and use no processor while they wait.  A process that dies releases it.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no flock here: filelock's portable lock
        with _portable_lock(common_dir, name, blocking) as held:
            yield held
        return
    folder = common_dir / "gitreg"
    path = str(folder / name)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            folder.mkdir(parents=True, exist_ok=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            yield False
            return
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except OSError:
            same = False
        if same:
            break
        os.close(fd)  # the file was removed or replaced while this process waited: lock the one there now
    try:
        yield True
    finally:
        os.close(fd)  # releases the lock; the file stays (its inode is what every writer locks)


@contextmanager
def _portable_lock(common_dir: Path, name: str, blocking: bool) -> Iterator[bool]:  # pragma: no cover - no flock
    from filelock import FileLock, Timeout

    folder = common_dir / "gitreg"
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / name), timeout=-1 if blocking else 0)
    try:
        lock.acquire(poll_interval=WRITE_LOCK_POLL)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
