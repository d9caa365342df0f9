"""The artifact store: objects, files and directories at their content address behind an fsspec URI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

from ..errors import ArtifactRefusedError, ArtifactStoreError, IntegrityError, MissingBytesError
from ..stamps import read_record, stat_stamp
from . import backends, failures, hashing
from .backends import reach
from .hashing import InPlaceRead, Progress, hash_file

MAX_LISTING = 64 * 1024 * 1024  # bytes of one directory listing (about 400,000 files)
T = TypeVar("T")


@dataclass(frozen=True)
class StoredObject:
    uri: str
    sha256: str
    size: int
    kind: str  # "file" or "directory"


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


class ArtifactStore:
    """A content-addressed store at ``uri``; relative local paths resolve against ``root``."""

    def __init__(self, uri: str, root: Path, storage_options: dict[str, Any] | None = None) -> None:
        self.uri = uri.rstrip("/")
        self.root = root
        self.storage_options = storage_options or {}
        self._fs = None
        self._base = ""
        self._reached: set[int] = set()  # filesystems whose first contact succeeded
        self._prepared: set[str] = set()  # local folders made and ignored by git already (by this object)

    # ------------------------------------------------------------ fsspec boundary

    def resolve(self, uri: str) -> str:
        """Absolute form of a stored URI (relative local paths are repo-relative)."""
        if backends.is_local_path(uri) and not os.path.isabs(uri):
            return str(self.root / uri)
        if uri.startswith("file://"):
            return uri[len("file://"):]
        return uri

    def _fs_for(self, uri: str) -> tuple[Any, str]:
        """(filesystem, path) of ``uri``; a remote filesystem is reached once first (see :func:`reach`)."""
        resolved = self.resolve(uri)
        try:
            backends.prepare_backend(resolved, self.storage_options)
            from fsspec.core import url_to_fs

            fs, path = url_to_fs(resolved, **self.storage_options)
        except ImportError as exc:
            raise ArtifactStoreError(
                f"cannot open {uri}: {exc}; install the extra for this protocol"
                " (e.g. pip install s3fs for s3://, gitreg's [s3] extra)"
            ) from None
        except Exception as exc:  # third-party boundary: bad options, unreadable credentials
            raise failures.classify(exc, f"cannot open {uri}", uri) from None
        if id(fs) not in self._reached:
            reach(fs, path, uri)
            self._reached.add(id(fs))
        return fs, path

    @property
    def fs(self) -> Any:
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
        with failures.boundary(f"cannot reach the artifact store {self.uri}", self.uri):
            return bool(self.fs.exists(self._object_path(sha)))

    # ------------------------------------------------------------ writing

    def put_file(self, path: str | os.PathLike[str], progress: Progress = hashing.no_progress) -> StoredObject:
        """Store one local file; returns its URI, hash and size."""
        src = Path(path)
        with failures.boundary(f"cannot store {src} in {self.uri}", self.uri):
            if self._is_local_fs(self.fs):
                return self._put_local(src, progress)
            sha, size = hash_file(src, progress=hashing.no_progress)
            if not self.has(sha):
                self._upload(src, sha, progress)
            else:
                progress(size)
            return StoredObject(self.object_uri(sha), sha, size, "file")

    def _put_local(self, src: Path, progress: hashing.Progress) -> StoredObject:
        # One pass: copy into a temporary file inside the store while hashing,
        # then rename it to its content address (or drop it if already there).
        tmp = self._local_scratch()
        try:
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                sha, size = hashing.digest(hashing.file_chunks(fin), progress, fout.write)
            self._settle(tmp, sha)
        finally:
            if tmp.exists():
                tmp.unlink()
        return StoredObject(self.object_uri(sha), sha, size, "file")

    def _local_scratch(self) -> Path:
        """A fresh temporary path inside the local store's objects folder."""
        objects = Path(self._base) / "objects" / "sha256"
        self._prepare(objects)
        return objects / f".tmp-{uuid.uuid4().hex}"

    def _prepare(self, folder: Path) -> None:
        """Make ``folder`` of the local store, and have git ignore the store if it lies in the repository:
        checked once per folder by this object (a write that finds the folder gone makes it again)."""
        key = os.fspath(folder)
        if key in self._prepared and os.path.isdir(key):
            return
        folder.mkdir(parents=True, exist_ok=True)
        self._ignore_in_git(Path(self._base))
        self._prepared.add(key)

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
        with failures.boundary(f"cannot write to {self.uri}", self.uri):
            tmp = self._local_scratch()
        try:
            result = write(tmp)
            with failures.boundary(f"cannot store a new object in {self.uri}", self.uri):
                with open(tmp, "rb") as fh:
                    sha, size = hashing.digest(hashing.file_chunks(fh))
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
        with failures.boundary(f"cannot write to {self.uri}", self.uri):
            tmp = self._local_scratch()
        try:
            with failures.boundary(f"cannot store a new object in {self.uri}", self.uri):
                raw = open(tmp, "wb", buffering=0)  # noqa: SIM115 - closed by the with below, outside the boundary
            with raw:
                sink = hashing.HashingWriter(raw)
                # a write-only binary file: the part of BinaryIO that writers use (see HashingWriter)
                result = write(cast(BinaryIO, sink))
            with failures.boundary(f"cannot store a new object in {self.uri}", self.uri):
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

    def _upload(self, src: Path, sha: str, progress: hashing.Progress) -> None:
        target = self._object_path(sha)
        tmp = f"{target}.tmp-{uuid.uuid4().hex}"
        fs = self.fs
        atomic = bool(backends.ATOMIC_PUT & set(backends.protocols(fs)))
        with open(src, "rb") as fin:
            fout = backends.open_write(fs, target if atomic else tmp)
            try:
                for chunk in iter(lambda: fin.read(hashing.CHUNK), b""):
                    fout.write(chunk)
                    progress(len(chunk))
            except BaseException:
                backends.abandon(fout)  # not closed: closing would commit the part sent so far
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

    def put_directory(self, path: str | os.PathLike[str], progress: Progress = hashing.no_progress) -> StoredObject:
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
        with failures.boundary(f"cannot read {uri}", uri):
            try:
                with backends.open_read(fs, path) as fh:
                    limit = hashing.CHUNK if size is None else min(hashing.CHUNK, size + 1)
                    for chunk in iter(lambda: fh.read(limit), b""):
                        seen += len(chunk)
                        if size is not None and seen > size:
                            raise hashing.size_error(uri, size, f"more than {size}")
                        digest.update(chunk)
                        yield chunk
            except FileNotFoundError:
                in_clone = backends.is_local_path(self.uri) and not os.path.isabs(self.uri)
                raise MissingBytesError(uri, self.uri, in_clone) from None
        if size is not None and seen != size:
            raise hashing.size_error(uri, size, str(seen))
        actual = digest.hexdigest()
        if actual != sha:
            raise IntegrityError(uri, sha, actual)

    def fetch_file(self, uri: str, sha: str, dest: str | os.PathLike[str],
                   progress: Progress = hashing.no_progress, size: int | None = None) -> Path:
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

    def read_in_place(self, uri: str, sha: str, size: int, stamps: Path) -> InPlaceRead | None:
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
            fh = open(path, "rb", buffering=0)  # noqa: SIM115 - handed on to the read (or closed below)
        except OSError:
            return None
        try:
            stamp = stat_stamp(os.fstat(fh.fileno()))
            if stamp[0] != size:
                raise hashing.size_error(uri, size, str(stamp[0]))
            record = stamps / sha
            if read_record(record) == [str(path), *stamp]:
                fh.close()
                return InPlaceRead(uri, Path(path), stamp, sha, size, record, None)
            if time.time_ns() - stamp[2] < hashing.RACY_NS:
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
                        progress: Progress = hashing.no_progress, size: int | None = None) -> Path:
        """Copy a stored directory to ``dest``, each file verified; ``size`` is the files' total."""
        files = self._listing(uri, sha)
        total = sum(entry["size"] for entry in files)
        if size is not None and total != size:
            raise hashing.size_error(uri, size, f"{total} (the files its listing names)")
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
        with failures.boundary(f"cannot list the artifact store {self.uri}", self.uri):
            root = self._objects_root()
            if not self.fs.exists(root):
                return
            found = self.fs.find(root, detail=True)
        for path, info in sorted(found.items()):
            rel = path[len(root):].strip("/").split("/")
            name = rel[-1]
            sha = rel[0] + name if len(rel) == 2 and len(rel[0]) == 2 and ".tmp-" not in name else None
            yield StoreEntry(path, sha, int(info.get("size") or 0), backends.modified(info))

    def remove_object(self, sha: str) -> None:
        """Remove the object with hash ``sha`` from the store."""
        self.remove(self._object_path(sha))

    def remove(self, path: str) -> None:
        with failures.boundary(f"cannot remove {path} from the artifact store", self.uri):
            if self._is_local_fs(self.fs):
                os.chmod(path, 0o644)  # stored objects are read-only
            self.fs.rm(path)

    def describe_external(self, uri: str) -> StoredObject:
        """Hash an object that stays where it is (a link without copying)."""
        fs, path = self._fs_for(uri)
        with failures.boundary(f"cannot read {uri}", uri):
            try:
                if fs.isdir(path):
                    files = []
                    total = 0
                    for sub in sorted(fs.find(path)):
                        sha, size = backends.hash_stream(fs, sub)
                        files.append({"path": sub[len(path):].lstrip("/"), "sha256": sha, "size": size})
                        total += size
                    return StoredObject(uri, hashlib.sha256(_listing_bytes(files)).hexdigest(), total, "directory")
                sha, size = backends.hash_stream(fs, path)
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
            with failures.boundary(f"cannot copy {uri}", uri):
                try:
                    subs = sorted(fs.find(path))
                except FileNotFoundError:
                    raise ArtifactStoreError(f"{uri} does not exist") from None
                for sub in subs:
                    rel = sub[len(path):].lstrip("/")
                    target = scratch / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    left = None if size is None else size - total
                    with backends.open_read(fs, sub) as fin, open(target, "wb") as out:
                        digest = hashlib.sha256()
                        n = 0
                        for chunk in iter(lambda: fin.read(hashing.CHUNK), b""):
                            n += len(chunk)
                            if left is not None and n > left:
                                raise hashing.size_error(uri, size or 0, f"more than {size}")
                            digest.update(chunk)
                            out.write(chunk)
                    files.append({"path": rel, "sha256": digest.hexdigest(), "size": n})
                    total += n
            if size is not None and total != size:
                raise hashing.size_error(uri, size, str(total))
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
        with failures.boundary(f"cannot write the run marker {path} in {self.uri}", self.uri):
            if self._is_local_fs(self.fs):
                folder = Path(self._runs_root())
                self._prepare(folder)
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
        with failures.boundary(f"cannot list the run markers of the artifact store {self.uri}", self.uri):
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
                out.append(MarkerFile(name[: -len(".json")], bytes(data), backends.modified(info)))
        return out

    def remove_run_marker(self, run_id: str) -> None:
        """Remove the marker of ``run_id``; a marker already gone is fine."""
        path = f"{self._runs_root()}/{run_id}.json"
        with failures.boundary(f"cannot remove the run marker {path} from {self.uri}", self.uri):
            try:
                self.fs.rm_file(path)
            except FileNotFoundError:
                pass


def _is_sha(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _listing_bytes(files: list[dict[str, Any]]) -> bytes:
    return json.dumps({"format": 1, "files": files}, sort_keys=True, separators=(",", ":")).encode()
