"""The artifact store: content-addressed bytes behind any fsspec URI.

The only module that imports fsspec.  Objects live at
``<store>/objects/sha256/<aa>/<rest-of-hash>``; a directory is stored as its
files plus a JSON listing whose hash is the directory's hash.  Copies stream in
fixed-size chunks, hash while copying, skip objects the store already holds,
and every read is verified against the recorded hash (a local object read in
place and unchanged since its hash matched: by its verified stamp, see
:meth:`ArtifactStore.read_in_place`).

Remote stores (S3, GCS, Azure, ...) are opened the same way on every backend:
files are read and written in ``CHUNK`` blocks with no read-ahead cache (memory
stays bounded whatever the backend's defaults), the first contact with a store
is bounded by :func:`store_timeout` and fails fast when nothing listens at its
endpoint, and backend failures become one line: refused credentials an
:class:`~gitreg.errors.StoreAuthenticationError` (also an ``AuthenticationError``), anything else an
:class:`~gitreg.errors.ArtifactStoreError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, TypeVar

from .errors import (
    ArtifactRefusedError, ArtifactStoreError, GitregError, IntegrityError, InvalidValueError,
    StoreAuthenticationError,
)
from .stamps import read_record, stat_stamp, write_record
from .store_options import PROTOCOL_FAMILY, credentials_hint, store_family

CHUNK = 8 * 1024 * 1024
MAX_LISTING = 64 * 1024 * 1024  # bytes of one directory listing (about 400,000 files)
T = TypeVar("T")
Progress = Callable[[int], None]  # called with the number of bytes just transferred
#: An object changed less than this ago is not read in place (so never stamped): a change in the
#: same tick of the file system's clock would leave its times equal (git's "racy" files).
RACY_NS = 100_000_000
PARALLEL_HASH = 4 * 1024 * 1024  # objects at least this large are hashed while they are read
#: Seconds the first contact with a remote store may take ($GITREG_STORE_TIMEOUT overrides it).
DEFAULT_TIMEOUT = 20.0
TIMEOUT_ENV = "GITREG_STORE_TIMEOUT"
#: Protocols whose writes become visible whole or not at all (a multipart or block upload is
#: committed at the end): objects are uploaded straight to their content address.
ATOMIC_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})


@dataclass(frozen=True)
class StoredObject:
    uri: str
    sha256: str
    size: int
    kind: str  # "file" or "directory"


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
            self._result = _digest(_file_chunks(self._fh, self._size + 1))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self._error = exc

    def _raise_if_wrong(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            with _boundary(f"cannot read {self.uri}", self.uri):
                raise self._error
        if self._result is not None:
            actual, seen = self._result
            if seen != self._size:
                raise _size_error(self.uri, self._size, str(seen) if seen <= self._size else f"more than {self._size}")
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

    def __enter__(self) -> "InPlaceRead":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@dataclass(frozen=True)
class StoreEntry:
    """One file under ``objects/`` of the store: an object, or a leftover temporary file."""

    path: str
    sha256: str | None  # None for temporary files of interrupted uploads
    size: int
    modified: float | None  # seconds since the epoch, when the backend tells


@dataclass(frozen=True)
class MarkerFile:
    """One file under ``runs/`` of the store: the liveness marker of a pipeline run."""

    run_id: str
    data: bytes
    modified: float | None  # seconds since the epoch, when the backend tells


def object_uri(store_uri: str, sha: str) -> str:
    """Where the store at ``store_uri`` keeps the object with hash ``sha`` (its content address)."""
    return f"{store_uri.rstrip('/')}/objects/sha256/{sha[:2]}/{sha[2:]}"


def _noop(_: int) -> None:
    pass


def _is_local_path(uri: str) -> bool:
    return "://" not in uri and not uri.startswith("memory:")


class ArtifactStore:
    """A content-addressed store at ``uri``; relative local paths resolve against ``root``."""

    def __init__(self, uri: str, root: Path, storage_options: dict[str, Any] | None = None) -> None:
        self.uri = uri.rstrip("/")
        self.root = root
        self.storage_options = storage_options or {}
        self._fs = None
        self._base = ""
        self._reached: set[int] = set()  # filesystems whose first contact succeeded

    # ------------------------------------------------------------ fsspec boundary

    def resolve(self, uri: str) -> str:
        """Absolute form of a stored URI (relative local paths are repo-relative)."""
        if _is_local_path(uri) and not os.path.isabs(uri):
            return str(self.root / uri)
        if uri.startswith("file://"):
            return uri[len("file://"):]
        return uri

    def _fs_for(self, uri: str):
        """(filesystem, path) of ``uri``; a remote filesystem is reached once first (see :func:`reach`)."""
        resolved = self.resolve(uri)
        try:
            _prepare_backend(resolved, self.storage_options)
            from fsspec.core import url_to_fs

            fs, path = url_to_fs(resolved, **self.storage_options)
        except ImportError as exc:
            raise ArtifactStoreError(
                f"cannot open {uri}: {exc}; install the extra for this protocol"
                " (e.g. pip install s3fs for s3://, gitreg's [s3] extra)"
            ) from None
        except Exception as exc:  # noqa: BLE001 - third-party boundary: bad options, unreadable credentials
            raise _classify(exc, f"cannot open {uri}", uri) from None
        if id(fs) not in self._reached:
            reach(fs, path, uri)
            self._reached.add(id(fs))
        return fs, path

    @property
    def fs(self):
        if self._fs is None:
            self._fs, self._base = self._fs_for(self.uri)
        return self._fs

    def _is_local_fs(self, fs: Any) -> bool:
        return "file" in getattr(fs, "protocol", ()) or "local" in getattr(fs, "protocol", ())

    def object_uri(self, sha: str) -> str:
        return object_uri(self.uri, sha)

    def _objects_root(self) -> str:
        self.fs  # noqa: B018 - make sure _base is set
        return f"{self._base}/objects/sha256"

    def _object_path(self, sha: str) -> str:
        return f"{self._objects_root()}/{sha[:2]}/{sha[2:]}"

    def has(self, sha: str) -> bool:
        with _boundary(f"cannot reach the artifact store {self.uri}", self.uri):
            return bool(self.fs.exists(self._object_path(sha)))

    # ------------------------------------------------------------ writing

    def put_file(self, path: str | os.PathLike[str], progress: Progress = _noop) -> StoredObject:
        """Store one local file; returns its URI, hash and size."""
        src = Path(path)
        with _boundary(f"cannot store {src} in {self.uri}", self.uri):
            if self._is_local_fs(self.fs):
                return self._put_local(src, progress)
            sha, size = hash_file(src, progress=_noop)
            if not self.has(sha):
                self._upload(src, sha, progress)
            else:
                progress(size)
            return StoredObject(self.object_uri(sha), sha, size, "file")

    def _put_local(self, src: Path, progress: Progress) -> StoredObject:
        # One pass: copy into a temporary file inside the store while hashing,
        # then rename it to its content address (or drop it if already there).
        tmp = self._local_scratch()
        try:
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                sha, size = _digest(_file_chunks(fin), progress, fout.write)
            self._settle(tmp, sha)
        finally:
            if tmp.exists():
                tmp.unlink()
        return StoredObject(self.object_uri(sha), sha, size, "file")

    def _local_scratch(self) -> Path:
        """A fresh temporary path inside the local store's objects folder."""
        objects = Path(self._base) / "objects" / "sha256"
        objects.mkdir(parents=True, exist_ok=True)
        self._ignore_in_git(Path(self._base))
        return objects / f".tmp-{uuid.uuid4().hex}"

    def _settle(self, tmp: Path, sha: str) -> None:
        """Give a hashed temporary file its content address (or drop it: already there)."""
        final = Path(self._object_path(sha))
        if final.exists():
            tmp.unlink()
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)

    def put_written(self, write: Callable[[Path], T]) -> tuple[StoredObject, T]:
        """Store the file ``write(path)`` writes; returns what was stored and what ``write`` returned.

        In a local store the file is written inside it and hashed in place, then
        renamed to its content address: its bytes are never copied.  Elsewhere it
        is written to a temporary folder and uploaded.
        """
        if not self._is_local_fs(self.fs):
            with tempfile.TemporaryDirectory(prefix="gitreg-") as folder:
                path = Path(folder) / "artifact"
                result = write(path)
                return self.put_file(path), result
        with _boundary(f"cannot write to {self.uri}", self.uri):
            tmp = self._local_scratch()
        try:
            result = write(tmp)
            with _boundary(f"cannot store a new object in {self.uri}", self.uri):
                with open(tmp, "rb") as fh:
                    sha, size = _digest(_file_chunks(fh))
                self._settle(tmp, sha)
        finally:
            if tmp.exists():
                tmp.unlink()
        return StoredObject(self.object_uri(sha), sha, size, "file"), result

    def put_stream(self, write: Callable[[BinaryIO], T]) -> tuple[StoredObject, T]:
        """Store the bytes ``write(fh)`` writes, in order, to a binary file object; returns what was
        stored and what ``write`` returned.

        In a local store the bytes are hashed as they are written (never read back) and the file
        is renamed to its content address.  ``fh`` cannot seek: writers that need to (zip files)
        use :meth:`put_written`.
        """
        if not self._is_local_fs(self.fs):
            def to_path(path: Path) -> T:
                with open(path, "wb") as fh:
                    return write(fh)
            return self.put_written(to_path)
        with _boundary(f"cannot write to {self.uri}", self.uri):
            tmp = self._local_scratch()
        try:
            with _boundary(f"cannot store a new object in {self.uri}", self.uri):
                raw = open(tmp, "wb", buffering=0)
            with raw:
                sink = _HashingWriter(raw)
                result = write(sink)
            with _boundary(f"cannot store a new object in {self.uri}", self.uri):
                self._settle(tmp, sink.sha256())
        finally:
            if tmp.exists():
                tmp.unlink()
        return StoredObject(self.object_uri(sink.sha256()), sink.sha256(), sink.size, "file"), result

    def _ignore_in_git(self, base: Path) -> None:
        """A store folder inside the repository ignores itself."""
        try:
            base.resolve().relative_to(self.root.resolve())
        except ValueError:
            return
        marker = base / ".gitignore"
        if not marker.exists():
            base.mkdir(parents=True, exist_ok=True)
            marker.write_text("# gitreg artifact store: bytes live here, manifests in .mcp/\n*\n")

    def _upload(self, src: Path, sha: str, progress: Progress) -> None:
        target = self._object_path(sha)
        tmp = f"{target}.tmp-{uuid.uuid4().hex}"
        fs = self.fs
        atomic = bool(ATOMIC_PUT & set(_protocols(fs)))
        with open(src, "rb") as fin:
            fout = _open_write(fs, target if atomic else tmp)
            try:
                for chunk in iter(lambda: fin.read(CHUNK), b""):
                    fout.write(chunk)
                    progress(len(chunk))
            except BaseException:
                _abandon(fout)  # not closed: closing would commit the part sent so far
                raise
            fout.close()
        if atomic:
            return  # committed whole at close: an interrupted upload leaves nothing behind
        try:
            fs.mv(tmp, target)
        except (OSError, NotImplementedError):
            fs.rm(tmp)
            raise

    def put_bytes(self, data: bytes) -> StoredObject:
        with tempfile.NamedTemporaryFile(delete=False) as fh:
            fh.write(data)
        try:
            return self.put_file(fh.name)
        finally:
            os.unlink(fh.name)

    def put_directory(self, path: str | os.PathLike[str], progress: Progress = _noop) -> StoredObject:
        """Store every file under ``path`` and a listing; the listing's hash names the directory."""
        src = Path(path)
        files = []
        total = 0
        for file in sorted(p for p in src.rglob("*") if p.is_file()):
            stored = self.put_file(file, progress)
            rel = file.relative_to(src).as_posix()
            files.append({"path": rel, "sha256": stored.sha256, "size": stored.size})
            total += stored.size
        listing = _listing_bytes(files)
        stored = self.put_bytes(listing)
        return StoredObject(stored.uri, stored.sha256, total, "directory")

    # ------------------------------------------------------------ reading

    def open_verified(self, uri: str, sha: str, size: int | None = None) -> Iterator[bytes]:
        """Yield the chunks of ``uri``; raise at the end on a hash mismatch.

        With ``size``, reading stops as soon as more bytes arrive than that, and
        fewer is refused too: a small recorded size never lets a large file through.
        """
        fs, path = self._fs_for(uri)
        digest = hashlib.sha256()
        seen = 0
        with _boundary(f"cannot read {uri}", uri):
            try:
                with _open_read(fs, path) as fh:
                    limit = CHUNK if size is None else min(CHUNK, size + 1)
                    for chunk in iter(lambda: fh.read(limit), b""):
                        seen += len(chunk)
                        if size is not None and seen > size:
                            raise _size_error(uri, size, f"more than {size}")
                        digest.update(chunk)
                        yield chunk
            except FileNotFoundError:
                raise ArtifactStoreError(
                    f"{uri} is missing from the artifact store; was it deleted or is the store"
                    " URI in .mcp/registry.yaml pointing elsewhere?"
                ) from None
        if size is not None and seen != size:
            raise _size_error(uri, size, str(seen))
        actual = digest.hexdigest()
        if actual != sha:
            raise IntegrityError(uri, sha, actual)

    def fetch_file(self, uri: str, sha: str, dest: str | os.PathLike[str],
                   progress: Progress = _noop, size: int | None = None) -> Path:
        """Copy ``uri`` to ``dest`` verifying its hash (and size); nothing is left at dest on failure."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex}")
        try:
            with open(tmp, "wb") as out:
                for chunk in self.open_verified(uri, sha, size):
                    out.write(chunk)
                    progress(len(chunk))
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                tmp.unlink()
        return dest

    def read_in_place(self, uri: str, sha: str, size: int, stamps: Path) -> "InPlaceRead | None":
        """Read the object ``uri`` where it is, when the store is a local folder (else None).

        ``stamps`` is a folder of verified stamps keyed by sha256.  The size is
        compared with ``size`` at once, always.  An object whose (size, mtime,
        ctime, inode, device) equal the stamp recorded when its hash last matched
        is not hashed again (ctime cannot be set back by a user); any other is
        hashed from a file opened now, alongside the caller's read of ``path``,
        and :meth:`InPlaceRead.check` says whether what the caller read is what
        was verified.  None also when the object cannot be opened or changed a
        moment ago: the caller's verified copy then reports or settles it.
        """
        if not _is_sha(sha):
            return None
        fs, path = self._fs_for(uri)
        if not self._is_local_fs(fs):
            return None
        try:
            fh = open(path, "rb", buffering=0)
        except OSError:
            return None
        try:
            stamp = stat_stamp(os.fstat(fh.fileno()))
            if stamp[0] != size:
                raise _size_error(uri, size, str(stamp[0]))
            record = stamps / sha
            if read_record(record) == [str(path), *stamp]:
                fh.close()
                return InPlaceRead(uri, Path(path), stamp, sha, size, record, None)
            if time.time_ns() - stamp[2] < RACY_NS:
                fh.close()
                return None
            return InPlaceRead(uri, Path(path), stamp, sha, size, record, fh)
        except BaseException:
            fh.close()
            raise

    def read_bytes(self, uri: str, sha: str, size: int | None = None) -> bytes:
        return b"".join(self.open_verified(uri, sha, size))

    def _listing(self, uri: str, sha: str) -> list[dict[str, Any]]:
        """The verified entries of a directory listing, each checked for shape."""
        data = b"".join(self._bounded(uri, sha, MAX_LISTING))
        try:
            files = json.loads(data)["files"]
            if not isinstance(files, list):
                raise TypeError("files is not a list")
            for entry in files:
                rel = Path(entry["path"])
                if (not isinstance(entry["path"], str) or not _is_sha(entry["sha256"])
                        or type(entry["size"]) is not int or entry["size"] < 0):
                    raise ValueError(f"bad entry {entry!r:.100}")
                if not entry["path"] or rel.is_absolute() or ".." in rel.parts:
                    raise ValueError(f"unsafe path {entry['path']!r:.100}")
        except (ValueError, TypeError, KeyError) as exc:
            raise ArtifactRefusedError(uri, f"not a valid directory listing ({exc}); refusing to load") from None
        return files

    def _bounded(self, uri: str, sha: str, limit: int) -> Iterator[bytes]:
        seen = 0
        for chunk in self.open_verified(uri, sha):
            seen += len(chunk)
            if seen > limit:
                raise ArtifactRefusedError(uri, f"larger than {limit} bytes, too large for a directory listing;"
                                                " refusing to load")
            yield chunk

    def fetch_directory(self, uri: str, sha: str, dest: str | os.PathLike[str],
                        progress: Progress = _noop, size: int | None = None) -> Path:
        """Copy a stored directory to ``dest``, each file verified; ``size`` is the files' total."""
        files = self._listing(uri, sha)
        total = sum(entry["size"] for entry in files)
        if size is not None and total != size:
            raise _size_error(uri, size, f"{total} (the files its listing names)")
        dest = Path(dest)
        for entry in files:
            self.fetch_file(self.object_uri(entry["sha256"]), entry["sha256"], dest / entry["path"], progress,
                            entry["size"])
        return dest

    def directory_files(self, uri: str, sha: str) -> list[str]:
        """Hashes of the files a stored directory listing names."""
        return [entry["sha256"] for entry in self._listing(uri, sha)]

    def entries(self) -> Iterator[StoreEntry]:
        """Every file under the store's ``objects/`` folder (one listing call)."""
        with _boundary(f"cannot list the artifact store {self.uri}", self.uri):
            root = self._objects_root()
            if not self.fs.exists(root):
                return
            found = self.fs.find(root, detail=True)
        for path, info in sorted(found.items()):
            rel = path[len(root):].strip("/").split("/")
            name = rel[-1]
            sha = rel[0] + name if len(rel) == 2 and len(rel[0]) == 2 and ".tmp-" not in name else None
            yield StoreEntry(path, sha, int(info.get("size") or 0), _modified(info))

    def remove_object(self, sha: str) -> None:
        """Remove the object with hash ``sha`` from the store."""
        self.remove(self._object_path(sha))

    def remove(self, path: str) -> None:
        with _boundary(f"cannot remove {path} from the artifact store", self.uri):
            if self._is_local_fs(self.fs):
                os.chmod(path, 0o644)  # stored objects are read-only
            self.fs.rm(path)

    def describe_external(self, uri: str) -> StoredObject:
        """Hash an object that stays where it is (a link without copying)."""
        fs, path = self._fs_for(uri)
        with _boundary(f"cannot read {uri}", uri):
            try:
                if fs.isdir(path):
                    files = []
                    total = 0
                    for sub in sorted(fs.find(path)):
                        sha, size = _hash_stream(fs, sub)
                        files.append({"path": sub[len(path):].lstrip("/"), "sha256": sha, "size": size})
                        total += size
                    return StoredObject(uri, hashlib.sha256(_listing_bytes(files)).hexdigest(), total, "directory")
                sha, size = _hash_stream(fs, path)
            except FileNotFoundError:
                raise ArtifactStoreError(f"{uri} does not exist") from None
        return StoredObject(uri, sha, size, "file")

    def fetch_external_directory(self, uri: str, sha: str, dest: str | os.PathLike[str],
                                 size: int | None = None) -> Path:
        """Copy a directory linked in place to ``dest``, hashing what is copied.

        The listing of the copied bytes must hash to ``sha`` (and their total be
        ``size``); otherwise nothing is left at ``dest``.
        """
        fs, path = self._fs_for(uri)
        dest = Path(dest)
        scratch = dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex}")
        files = []
        total = 0
        try:
            with _boundary(f"cannot copy {uri}", uri):
                try:
                    subs = sorted(fs.find(path))
                except FileNotFoundError:
                    raise ArtifactStoreError(f"{uri} does not exist") from None
                for sub in subs:
                    rel = sub[len(path):].lstrip("/")
                    target = scratch / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    left = None if size is None else size - total
                    with _open_read(fs, sub) as fin, open(target, "wb") as out:
                        digest = hashlib.sha256()
                        n = 0
                        for chunk in iter(lambda: fin.read(CHUNK), b""):
                            n += len(chunk)
                            if left is not None and n > left:
                                raise _size_error(uri, size or 0, f"more than {size}")
                            digest.update(chunk)
                            out.write(chunk)
                    files.append({"path": rel, "sha256": digest.hexdigest(), "size": n})
                    total += n
            if size is not None and total != size:
                raise _size_error(uri, size, str(total))
            actual = hashlib.sha256(_listing_bytes(files)).hexdigest()
            if actual != sha:
                raise IntegrityError(uri, sha, actual)
            if dest.exists():
                shutil.copytree(scratch, dest, dirs_exist_ok=True)
            else:
                scratch.mkdir(parents=True, exist_ok=True)  # an empty directory is a directory too
                os.replace(scratch, dest)
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
        return dest

    # ------------------------------------------------------------ run markers (liveness of pipeline runs)
    # A running pipeline keeps ``<store>/runs/<run-id>.json`` (see gitreg.pipelines.liveness); these
    # methods only move its bytes.

    def _runs_root(self) -> str:
        self.fs  # noqa: B018 - make sure _base is set
        return f"{self._base}/runs"

    def write_run_marker(self, run_id: str, data: bytes) -> None:
        """Create or replace the marker of ``run_id`` (readers never see half of it)."""
        path = f"{self._runs_root()}/{run_id}.json"
        with _boundary(f"cannot write the run marker {path} in {self.uri}", self.uri):
            if self._is_local_fs(self.fs):
                folder = Path(self._runs_root())
                folder.mkdir(parents=True, exist_ok=True)
                self._ignore_in_git(Path(self._base))
                tmp = folder / f".tmp-{uuid.uuid4().hex}"
                try:
                    tmp.write_bytes(data)
                    os.replace(tmp, path)
                finally:
                    if tmp.exists():
                        tmp.unlink()
            else:
                self.fs.pipe_file(path, data)  # one PUT: atomic on object stores

    def run_markers(self) -> list[MarkerFile]:
        """Every run marker in the store, read now (not from a listing cache)."""
        out: list[MarkerFile] = []
        with _boundary(f"cannot list the run markers of the artifact store {self.uri}", self.uri):
            root = self._runs_root()
            self.fs.invalidate_cache(root)
            if not self.fs.exists(root):
                return out
            found = self.fs.find(root, detail=True)
            for path, info in sorted(found.items()):
                name = path.rsplit("/", 1)[-1]
                if name.startswith(".") or not name.endswith(".json"):
                    continue
                try:
                    data = self.fs.cat_file(path)
                except FileNotFoundError:
                    continue  # removed since the listing: that run was recorded
                out.append(MarkerFile(name[: -len(".json")], bytes(data), _modified(info)))
        return out

    def remove_run_marker(self, run_id: str) -> None:
        """Remove the marker of ``run_id``; a marker already gone is fine."""
        path = f"{self._runs_root()}/{run_id}.json"
        with _boundary(f"cannot remove the run marker {path} from {self.uri}", self.uri):
            try:
                self.fs.rm_file(path)
            except FileNotFoundError:
                pass


def _is_sha(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _size_error(uri: str, expected: int, actual: str) -> ArtifactRefusedError:
    return ArtifactRefusedError(uri, f"size mismatch (the link records {expected} bytes, the store holds {actual});"
                                     " the stored bytes or the link were changed, refusing to load")


def _modified(info: dict[str, Any]) -> float | None:
    for key in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(key)
        if isinstance(value, (int, float)):
            return float(value)
        timestamp = getattr(value, "timestamp", None)
        if callable(timestamp):
            return float(timestamp())
    return None


@contextmanager
def _boundary(what: str, uri: str | None = None) -> Iterator[None]:
    """Turn any backend failure (OSError, botocore, aiohttp, azure, google-auth, ...) into one gitreg error."""
    try:
        yield
    except GitregError:
        raise
    except Exception as exc:  # noqa: BLE001 - third-party boundary (fsspec backends)
        raise _classify(exc, what, uri) from None


# ------------------------------------------------------------ backends: options, first contact, errors

def store_timeout() -> float:
    """Seconds the first contact with a remote store may take: ``$GITREG_STORE_TIMEOUT``, default 20."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InvalidValueError(f"${TIMEOUT_ENV} must be a positive number of seconds, not {text!r}")
    return value


def _prepare_backend(uri: str, options: dict[str, Any]) -> None:
    """Settings a backend reads once, at import, before it is imported.

    gcsfs probes each bucket's type over gRPC unless GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT is false;
    an emulator or a proxy (a non-Google endpoint) has no gRPC, and each probe hangs for a minute.
    """
    if store_family(uri) == "gs" and (options.get("endpoint_url") or os.environ.get("STORAGE_EMULATOR_HOST")):
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = getattr(fs, "protocol", ())
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _open_read(fs: Any, path: str) -> Any:
    """A file of ``fs`` to read in CHUNK blocks: remote ones with no read-ahead cache (bounded memory)."""
    if {"file", "local"} & set(_protocols(fs)):
        return fs.open(path, "rb")
    return fs.open(path, "rb", block_size=CHUNK, cache_type="none")


def _open_write(fs: Any, path: str) -> Any:
    """A file of ``fs`` to write, sent in CHUNK blocks (not the backend's default block size)."""
    if {"file", "local"} & set(_protocols(fs)):
        return fs.open(path, "wb")
    return fs.open(path, "wb", block_size=CHUNK)


def _abandon(fh: Any) -> None:
    """Drop a file being written without committing it (fsspec's files commit on close, even on error)."""
    try:
        fh.discard()  # s3fs aborts the multipart upload, gcsfs the resumable one
    except Exception:  # noqa: BLE001 - best effort: an unfinished upload is never visible anyway
        pass
    try:
        fh.closed = True  # nor by the finaliser; adlfs's staged blocks expire uncommitted
    except AttributeError:
        fh.close()  # a file whose ``closed`` is read-only (not a buffered remote file): a scratch name


def _endpoint(fs: Any) -> str | None:
    """The URL a remote filesystem talks to, when the backend tells (for messages and the reach check)."""
    try:
        family = PROTOCOL_FAMILY.get(next(iter(_protocols(fs)), ""))
        if family == "gs":
            return str(fs._location)
        if family == "s3":
            return (getattr(fs, "endpoint_url", None) or (getattr(fs, "client_kwargs", None) or {}).get("endpoint_url")
                    or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
                    or "https://s3.amazonaws.com")
        if family == "az":
            client = getattr(fs, "service_client", None)
            return str(getattr(client, "url", None) or getattr(fs, "account_url", None) or "") or None
    except Exception:  # noqa: BLE001 - only for a message
        return None
    return None


def _tcp_problem(endpoint: str, timeout: float) -> tuple[str, str | None]:
    """(host:port of ``endpoint``, why no TCP connection to it can be made: None when one was made)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return endpoint, None
    target = f"{host}:{port}"
    if not host:
        return endpoint, None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return target, None
    except socket.gaierror as exc:
        return target, f"cannot resolve {host} ({exc.strerror})"
    except ConnectionRefusedError:
        return target, "connection refused (nothing listens there)"
    except (socket.timeout, TimeoutError):
        return target, f"no TCP connection within {timeout:g} s"
    except OSError as exc:
        return target, f"no TCP connection ({exc.strerror or exc})"


def reach(fs: Any, path: str, uri: str) -> None:
    """First contact with a remote (asynchronous) filesystem, within :func:`store_timeout` seconds.

    One metadata request on ``path`` (a missing path is fine; with gcsfs, after one token
    refresh, which it would otherwise retry for half a minute).  If it has not answered
    after a moment, a TCP connection to the endpoint is tried: nothing listening there fails
    at once instead of after the backend's retries; otherwise the request may take the rest
    of the time.  Failures are one line naming the endpoint and what was tried.
    """
    try:
        from fsspec.asyn import AsyncFileSystem
    except ImportError:
        return
    if not isinstance(fs, AsyncFileSystem) or getattr(fs, "asynchronous", False):
        return
    import asyncio
    import concurrent.futures

    timeout = store_timeout()
    endpoint = _endpoint(fs)
    backend = type(fs).__module__.split(".", 1)[0]
    at = f" at {endpoint}" if endpoint else ""
    tried = f"a metadata request for {uri} through {backend}"

    async def probe() -> None:
        # gcsfs retries a refused token for half a minute: ask for one once, up front, instead.
        refresh = getattr(getattr(fs, "credentials", None), "maybe_refresh", None)
        if callable(refresh):
            await _in_daemon_thread(refresh)
        try:
            await fs._info(path)
        except FileNotFoundError:
            pass

    started = time.monotonic()
    future = asyncio.run_coroutine_threadsafe(probe(), fs.loop)
    checked = False
    while True:
        left = timeout - (time.monotonic() - started)
        done, _ = concurrent.futures.wait([future], timeout=max(0.0, left if checked else min(left, 0.3)))
        if done:
            exc = future.exception()
            if exc is None:
                return
            raise _classify(exc, f"the artifact store {uri}{at}", uri)
        left = timeout - (time.monotonic() - started)
        problem = None
        if left <= 0:
            problem = f"no answer within {timeout:g} s"
        elif not checked:
            checked = True
            if endpoint:
                target, problem = _tcp_problem(endpoint, min(3.0, left))
                tried += f", then a TCP connection to {target}"
        if problem is not None:
            future.cancel()
            raise ArtifactStoreError(
                f"cannot reach the artifact store {uri}{at}: {problem} (tried: {tried}); check that the store is up"
                f" and its endpoint, or give it longer with ${TIMEOUT_ENV} (now {timeout:g} s)"
            )


async def _in_daemon_thread(func: Callable[[], Any]) -> Any:
    """Await ``func()`` run in a daemon thread: one that hangs cannot keep the process from exiting."""
    import asyncio
    import threading

    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if done.cancelled():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    def run() -> None:
        try:
            result = func()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="gitreg-store-credentials", daemon=True).start()
    return await done


_AUTH_NAMES = frozenset({
    "NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError", "ClientAuthenticationError",
    "RefreshError", "DefaultCredentialsError", "UserAccessTokenError", "ReauthFailError",
})
_AUTH_MARKERS = ("invalidaccesskeyid", "signaturedoesnotmatch", "accessdenied", "authenticationfailed",
                 "authorizationfailure", "authorizationpermissionmismatch", "invalid_grant", "unauthorized",
                 "forbidden", "expiredtoken", "invalidtoken", "invalid credentials")
_UNREACHABLE_NAMES = frozenset({
    "ConnectionRefusedError", "ClientConnectorError", "ServerDisconnectedError", "EndpointConnectionError",
    "ConnectTimeoutError", "ConnectTimeout", "ServiceRequestError", "ServiceResponseError", "gaierror",
    "FSTimeoutError", "TimeoutError", "ServerTimeoutError",
})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _status(exc: BaseException) -> int | None:
    for name in ("status_code", "status", "code"):
        value = getattr(exc, name, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore's ClientError
        value = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return value if isinstance(value, int) else None
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split("\n", 1)[0].split()) or repr(exc)
    return f"{type(exc).__name__}: {text[:300]}"


def _classify(exc: BaseException, what: str, uri: str | None = None) -> GitregError:
    """The gitreg error for a backend failure: refused credentials, an unreachable store, or other."""
    chain = list(_chain(exc))
    names = {cls.__name__ for error in chain for cls in type(error).__mro__}
    text = " ".join(str(error) for error in chain).lower()
    said = _one_line(exc)
    where = uri or what
    remote = "://" in where and not where.startswith(("file://", "memory://"))  # a local folder's
    if remote and (names & _AUTH_NAMES or any(isinstance(error, PermissionError) for error in chain)  # permissions
            or any(_status(error) in (401, 403) for error in chain) or any(m in text for m in _AUTH_MARKERS)):
        return StoreAuthenticationError(where, f"{what}: the store refused the credentials ({said});"
                                               f" {credentials_hint(where)}, then retry")
    if names & _UNREACHABLE_NAMES:
        return ArtifactStoreError(f"{what}: the store cannot be reached ({said}); check that it is up and its"
                                  " endpoint (.mcp/registry.yaml, the environment)")
    return ArtifactStoreError(f"{what}: {said}; check the store URI and options in .mcp/registry.yaml and the"
                              " credentials in the environment")


def _listing_bytes(files: list[dict[str, Any]]) -> bytes:
    return json.dumps({"format": 1, "files": files}, sort_keys=True, separators=(",", ":")).encode()


class _HashingWriter:
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


def _file_chunks(fh: Any, limit: int | None = None) -> Iterator[memoryview]:
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


def _digest(chunks: Iterable[bytes | memoryview], progress: Progress = _noop,
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


def _hash_stream(fs: Any, path: str) -> tuple[str, int]:
    with _open_read(fs, path) as fh:
        return _digest(iter(lambda: fh.read(CHUNK), b""))


def hash_file(path: str | os.PathLike[str], progress: Progress = _noop) -> tuple[str, int]:
    with open(path, "rb") as fh:
        return _digest(_file_chunks(fh), progress)
