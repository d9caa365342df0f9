"""Which pipeline runs are alive: what garbage collection must not take from under them.

A run stores its outputs as its steps end but links them only in the commit that
records the run at its end, so for hours an output can look like an orphan.  While
it runs, a pipeline therefore keeps two signs of life:

- a **marker in the store**, ``<store>/runs/<run-id>.json``, listing the hash of every
  object the run has stored, written when the run stores its first output, rewritten
  after each further output and every :data:`HEARTBEAT_SECONDS` by a daemon thread,
  and removed once the run is recorded.  Every machine that can reach the store sees it.
- a **lock file on its own machine** (``<git dir>/gitreg/runs/<run-id>.lock``, held from
  the first output to the end), which the operating system releases when the process
  dies, however it dies.  The marker names the host and the lock's path.

Garbage collection keeps every object a live run's marker lists, whatever its age.  A
run is judged on the machine that wrote its marker by its lock (held: alive; free: the
process is gone), exactly and at once; elsewhere (or when the lock file is not there) by
its heartbeat: a marker neither rewritten nor stamped for :data:`STALE_SECONDS` is dead.
The objects of a dead run are unreferenced objects like any other, collected once they
are older than the grace period.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import GitregError

if TYPE_CHECKING:
    from filelock import BaseFileLock

    from ..store import ArtifactStore, MarkerFile

HEARTBEAT_SECONDS = 60.0
"""How often a running pipeline rewrites its marker."""

STALE_SECONDS = 15 * 60.0
"""A marker silent this long (15 heartbeats) belongs to a dead run.  Generous on purpose:
it absorbs clock skew between machines and a store that is briefly unreachable."""

MARKER_FORMAT = 1


@dataclass(frozen=True)
class RunMarker:
    """The content of ``<store>/runs/<run-id>.json``."""

    run: str
    pipeline: str
    host: str
    pid: int
    lock: str                    # the lock file's absolute path on ``host``
    started: float               # seconds since the epoch
    heartbeat: float             # last write, by the writer's clock
    objects: tuple[str, ...]     # sha256 of every object the run stored

    def to_bytes(self) -> bytes:
        doc = {"format": MARKER_FORMAT, "run": self.run, "pipeline": self.pipeline, "host": self.host,
               "pid": self.pid, "lock": self.lock, "started": self.started, "heartbeat": self.heartbeat,
               "objects": list(self.objects)}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()  # compact: json's C encoder

    @classmethod
    def from_bytes(cls, data: bytes) -> RunMarker | None:
        """The marker, or None if ``data`` is not one (a stranger's file, a newer format)."""
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != MARKER_FORMAT:
                return None
            objects = doc["objects"]
            if not isinstance(objects, list) or not all(isinstance(o, str) for o in objects):
                return None
            return cls(str(doc["run"]), str(doc["pipeline"]), str(doc["host"]), int(doc["pid"]), str(doc["lock"]),
                       float(doc["started"]), float(doc["heartbeat"]), tuple(objects))
        except (ValueError, KeyError, TypeError):
            return None


def this_host() -> str:
    return socket.gethostname()


# ---------------------------------------------------------------- the running side

class RunLiveness:
    """A running pipeline's signs of life: its lock, its marker and the heartbeat.

    Nothing happens until the run stores its first object (a run without outputs
    never touches the store); :meth:`close` ends everything and is safe to call twice.
    """

    def __init__(self, store: ArtifactStore, run_id: str, pipeline: str, lock_dir: Path,
                 interval: float = HEARTBEAT_SECONDS) -> None:
        self.store = store
        self.run_id = run_id
        self.pipeline = pipeline
        self.lock_path = (Path(lock_dir) / f"{run_id}.lock").resolve()  # absolute: gc may run elsewhere
        self.interval = interval
        self.started = time.time()
        self._objects: dict[str, None] = {}  # ordered set
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._lock: BaseFileLock | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def wrote(self, sha: str) -> None:
        """The run stored ``sha``: publish it in the marker before the step goes on."""
        with self._mutex:
            if self._closed or sha in self._objects:
                return
            self._objects[sha] = None
            if self._lock is None:
                self._acquire()
            try:
                self._write()
            except GitregError:
                pass  # the store failed just now: the next heartbeat writes the whole list
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, name=f"gitreg-heartbeat-{self.run_id}",
                                                daemon=True)
                self._thread.start()

    def _acquire(self) -> None:
        from filelock import FileLock

        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.lock_path), timeout=0)
        lock.acquire()  # run ids are unique: nobody else holds it
        self._lock = lock

    def _marker(self) -> RunMarker:
        return RunMarker(self.run_id, self.pipeline, this_host(), os.getpid(), str(self.lock_path),
                         self.started, time.time(), tuple(self._objects))

    def _write(self) -> None:
        self.store.write_run_marker(self.run_id, self._marker().to_bytes())

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            with self._mutex:
                if self._closed:
                    return
                try:
                    self._write()
                except GitregError:
                    pass  # a missed beat (store unreachable): the next one tries again

    def close(self) -> None:
        """The run is recorded (or gave up): remove the marker, release and delete the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            if self._lock is None:
                return
            try:
                self.store.remove_run_marker(self.run_id)
            except GitregError:
                pass  # left behind: garbage collection sees the lock free and drops it
            self._lock.release()
            self._lock = None
            try:
                self.lock_path.unlink()
            except OSError:
                pass


# ---------------------------------------------------------------- the collecting side

@dataclass(frozen=True)
class RunVerdict:
    run: str
    alive: bool
    reason: str                  # for people: why alive or dead
    objects: frozenset[str]      # what its marker lists
    lock: str | None             # the lock file on this machine, if the marker names one here


def _own_lock_file(marker: RunMarker) -> bool:
    """The marker names a run lock of this machine: ``<...>/gitreg/runs/<its run id>.lock``.

    The store may be shared with people who can write markers; a lock path of any other
    shape is never opened (a lock probe opens the file for writing) nor deleted.
    """
    path = Path(marker.lock)
    return (marker.host == this_host() and path.is_absolute() and path.name == f"{marker.run}.lock"
            and path.parent.name == "runs" and path.parent.parent.name == "gitreg"
            and ".." not in path.parts and path.is_file())


def lock_held(marker: RunMarker) -> bool | None:
    """Whether the run's process still holds its lock: None when this machine cannot tell."""
    if not _own_lock_file(marker):
        return None
    from filelock import FileLock, Timeout

    probe = FileLock(marker.lock, timeout=0)
    try:
        probe.acquire()
    except Timeout:
        return True
    except OSError:
        return None
    probe.release()
    return False


def judge(entry: MarkerFile, now: float, stale_seconds: float = STALE_SECONDS) -> RunVerdict:
    """Alive or dead: by the lock on the run's own machine, else by the age of its last sign."""
    marker = RunMarker.from_bytes(entry.data)
    if marker is not None and marker.run != entry.run_id:
        marker = None  # not the marker of the run it is named after: it protects nothing
    objects = frozenset(marker.objects) if marker is not None else frozenset()
    held = lock_held(marker) if marker is not None else None
    if marker is not None and held is not None:
        reason = f"pid {marker.pid} on this machine " + ("holds its lock" if held else "is gone")
        return RunVerdict(entry.run_id, held, reason, objects, marker.lock)
    signs = [t for t in (entry.modified, marker.heartbeat if marker is not None else None) if t is not None]
    if not signs:
        return RunVerdict(entry.run_id, True, "marker without a time", objects, None)
    silent = now - max(signs)
    where = f" on {marker.host}" if marker is not None else ""
    if silent < stale_seconds:
        return RunVerdict(entry.run_id, True, f"heartbeat{where} {max(silent, 0):.0f}s ago", objects, None)
    return RunVerdict(entry.run_id, False, f"silent{where} for {silent / 60:.0f} min", objects, None)


def survey(store: ArtifactStore, stale_seconds: float = STALE_SECONDS) -> list[RunVerdict]:
    """A verdict for every run marker in ``store``, as of now."""
    now = time.time()
    return [judge(entry, now, stale_seconds) for entry in store.run_markers()]


def forget(store: ArtifactStore, verdict: RunVerdict) -> None:
    """Remove a dead run's marker (and its lock file, when on this machine)."""
    store.remove_run_marker(verdict.run)
    if verdict.lock is not None:
        try:
            os.unlink(verdict.lock)
        except OSError:
            pass
