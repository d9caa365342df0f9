"""Artifacts: Python objects and files into the store and back, verified.

Ties the materializers to the store; the registry records the links.
"""

from __future__ import annotations

import contextvars
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import materializers
from .errors import ArtifactRefusedError, GitregError, InvalidValueError
from .manifests import ARTIFACT_TYPES, ArtifactLink
from .stamps import read_record, stat_stamp, write_record

if TYPE_CHECKING:
    from .registry import Registry
    from .store import ArtifactStore, StoredObject

Progress = Callable[[int], None]

#: While a pipeline runs, what to call when an artifact of a model version is loaded (registry root, model,
#: version number): the run records that it used that version, as ZenML does.  Set by gitreg.pipelines, which
#: builds on this module (so this module never imports the pipeline machinery).
ON_CONSUME: contextvars.ContextVar[Callable[[str, str, int], None] | None] = contextvars.ContextVar(
    "gitreg_on_consume", default=None)

def _noop(_: int) -> None:
    pass


def check_type(artifact_type: str) -> str:
    if artifact_type not in ARTIFACT_TYPES:
        raise InvalidValueError(
            f"unknown artifact type {artifact_type!r}; expected one of: {', '.join(ARTIFACT_TYPES)}"
        )
    return artifact_type


def save_object(registry: Registry, obj: Any, name: str, artifact_type: str | None,
                run: str | None = None, step: str | None = None) -> ArtifactLink:
    """Serialise ``obj`` with its materializer and store it; the link is not committed yet."""
    store = registry.store()
    if materializers.streams(obj):  # hashed as it is written, never read back
        stored, saved = store.put_stream(lambda fh: materializers.save_stream(obj, fh))
    else:
        stored, saved = store.put_written(lambda path: materializers.save(obj, path))
    if artifact_type is None:
        artifact_type = "model" if saved.model_kind else "data"
    return _link(name, check_type(artifact_type), stored, saved.format, False, run, step, saved.trusted_types,
                 saved.summary)


def save_path(registry: Registry, path: str | os.PathLike[str], name: str, artifact_type: str,
              progress: Progress = _noop) -> ArtifactLink:
    """Store a local file or directory as is (format ``file`` / ``directory``)."""
    src = Path(path)
    if not src.exists():
        raise InvalidValueError(f"{path}: no such file or directory")
    store = registry.store()
    stored = store.put_directory(src, progress) if src.is_dir() else store.put_file(src, progress)
    return _link(name, check_type(artifact_type), stored, stored.kind, False)


def describe_uri(registry: Registry, uri: str, name: str, artifact_type: str) -> ArtifactLink:
    """Link an existing URI in place: hashed now, verified on every load."""
    stored = registry.store().describe_external(uri)
    return _link(name, check_type(artifact_type), stored, stored.kind, True)


def _link(name: str, artifact_type: str, stored: StoredObject, fmt: str, external: bool,
          run: str | None = None, step: str | None = None, trusted_types: tuple[str, ...] = (),
          summary: dict[str, Any] | None = None) -> ArtifactLink:
    return ArtifactLink(name=name, version=1, type=artifact_type, uri=stored.uri, sha256=stored.sha256,
                        size=stored.size, format=fmt, kind=stored.kind, external=external, run=run, step=step,
                        executes_code=materializers.executes_code(fmt), trusted_types=trusted_types,
                        summary=summary)


def check_source(store: ArtifactStore, link: ArtifactLink) -> None:
    """Refuse a link whose bytes must not be read: outside the store, or code from outside it.

    A link not marked ``external`` must name the content address of its hash in
    the configured store; anything else means the manifest points elsewhere.
    A format that runs code on load is never read from an external link.
    """
    if link.external:
        if materializers.executes_code(link.format):
            raise ArtifactRefusedError(
                link.uri, f"artifact {link.name!r} is in format {link.format!r}, which runs code when loaded, and is"
                " linked from outside the artifact store; gitreg never loads such a link (store it with"
                " save_artifact instead)")
        return
    expected = store.object_uri(link.sha256)
    if link.uri != expected:
        raise ArtifactRefusedError(
            link.uri, f"artifact {link.name!r}: the manifest points outside the artifact store (its uri is not"
            f" {expected}, where the configured store keeps that sha256); never loaded - fix or remove the link")


def download(registry: Registry, link: ArtifactLink, dest: str | os.PathLike[str],
             progress: Progress = _noop) -> Path:
    """Copy the artifact's bytes to ``dest`` (a file, or a folder for directories), verified."""
    store = registry.store()
    if not link.external:
        check_source(store, link)
    dest = Path(dest)
    if link.kind == "directory":
        if link.external:
            return store.fetch_external_directory(link.uri, link.sha256, dest, link.size)
        return store.fetch_directory(link.uri, link.sha256, dest, progress, link.size)
    return store.fetch_file(link.uri, link.sha256, dest, progress, link.size)


def load(registry: Registry, link: ArtifactLink, trusted: materializers.Trusted | None = None) -> Any:
    """The artifact as a Python object (files and directories: a verified, read-only local path).

    The types the link records (``trusted_types``, reviewed with the link) are
    trusted for its hash-verified bytes; ``trusted``: more types a skops file
    may hold (an explicit opt-in; see :func:`gitreg.materializers.load`).
    """
    store = registry.store()
    check_source(store, link)
    if link.format in materializers.PATH_FORMATS:
        return _cached_path(registry, link)
    what = f"artifact {link.name!r} v{link.version}"
    recorded = link.trusted_types
    # Types trusted by the link are trusted only for bytes verified before they are read: not in place.
    if not link.external and not materializers.executes_code(link.format) and not recorded:
        # A local store's object is read in place: hashed alongside the read unless its verified
        # stamp still holds, and its stamp compared again after reading (changed: the copy below).
        reading = store.read_in_place(link.uri, link.sha256, link.size, registry.repo.cache_dir / "verified")
        if reading is not None:
            with reading:
                try:
                    value = materializers.load(link.format, reading.path, verified=reading.verified,
                                               trusted=trusted, what=what)
                except GitregError:
                    # bytes that do not match their hash: say that, not how they failed to load
                    if reading.check():
                        raise
                else:
                    if reading.check():
                        return value
    # Elsewhere, for formats that run code, and for links that trust types: a private copy, hashed while it
    # is made.
    with tempfile.TemporaryDirectory(prefix="gitreg-") as tmp:
        path = store.fetch_file(link.uri, link.sha256, Path(tmp) / "artifact", size=link.size)
        return materializers.load(link.format, path, verified=True, trusted=trusted, what=what, recorded=recorded)


def _cached_path(registry: Registry, link: ArtifactLink) -> Path:
    """A verified local copy under ``.git/gitreg/artifacts/<sha256>``, fetched once.

    Copies are read-only, and a stamp (size, mtime, ctime, inode of every file)
    recorded when the copy was verified is compared on each use: a copy changed
    since is hashed again, and fetched anew unless its bytes still match.
    """
    from .store import hash_file

    root = _mkdir(registry.repo.cache_dir.parent / "artifacts")
    entry = root / link.sha256
    if link.kind == "file":
        name = Path(link.uri).name
        target = entry / (name if name not in ("", ".", "..") else "artifact")
        stamp_file = root / f"{link.sha256}-{target.name}.stamp"
    else:
        target = entry
        stamp_file = root / f"{link.sha256}.stamp"
    if target.exists():
        stamp = _stamp(target)
        if stamp is not None and stamp == read_record(stamp_file):
            return target
        if link.kind == "file" and target.is_file() and hash_file(target) == (link.sha256, link.size):
            _read_only(target)
            _keep_stamp(stamp_file, target)
            return target
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        download(registry, link, scratch / "x")
        _read_only(scratch / "x")
        if link.kind == "file":
            _mkdir(entry)
            os.replace(scratch / "x", target)  # replaces a changed copy in one step
        else:
            if entry.exists():
                _remove(entry)
            try:
                os.replace(scratch / "x", entry)
            except OSError:
                if not entry.exists():  # else a concurrent load got there first
                    raise
    finally:
        try:
            _remove(scratch)
        except OSError:
            pass
    _keep_stamp(stamp_file, target)
    return target


def _files_of(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if not p.is_dir())


def _stamp(path: Path) -> list[list[Any]] | None:
    """What changes when any file under ``path`` is edited, replaced, added or removed."""
    try:
        out = []
        for file in _files_of(path):
            out.append([file.relative_to(path).as_posix(), *stat_stamp(file.lstat())])
        return out
    except OSError:
        return None


def _keep_stamp(stamp_file: Path, target: Path) -> None:
    stamp = _stamp(target)
    if stamp is not None:  # no stamp: the next use hashes again
        write_record(stamp_file, stamp)


def _read_only(path: Path) -> None:
    if path.is_dir():
        for sub in sorted(path.rglob("*"), reverse=True):
            os.chmod(sub, 0o555 if sub.is_dir() else 0o444)
        os.chmod(path, 0o555)
    else:
        os.chmod(path, 0o444)


def _remove(path: Path) -> None:
    """Remove a (read-only) cached copy."""
    if path.is_dir() and not path.is_symlink():
        os.chmod(path, 0o755)
        for sub in path.rglob("*"):
            if sub.is_dir() and not sub.is_symlink():
                os.chmod(sub, 0o755)
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class ArtifactVersion:
    """An artifact linked to a model version, with ways to get its content."""

    link: ArtifactLink
    model: str
    model_version: int
    registry: Registry

    def __getattr__(self, item: str) -> Any:  # name, type, uri, sha256, size, ...
        return getattr(self.link, item)

    @property
    def version(self) -> str:
        """The artifact version as ZenML's ArtifactVersionResponse gives it: text, ``"1"`` (:attr:`number`: 1)."""
        return str(self.link.version)

    @property
    def number(self) -> int:
        """The artifact version's number (1, 2, 3, ... per model and artifact name)."""
        return self.link.version

    @property
    def executes_code(self) -> bool:
        """Loading runs code (pickle and kin): decided by the format, not by the manifest's flag."""
        return materializers.executes_code(self.link.format)

    def load(self, trusted: materializers.Trusted | None = None) -> Any:
        """The content; ``trusted`` lists extra types a skops file may hold (only for bytes you trust).

        Inside a pipeline run, the run is recorded as one that used this model version (as ZenML does)."""
        value = load(self.registry, self.link, trusted)
        consumed = ON_CONSUME.get()
        if consumed is not None:
            consumed(str(self.registry.root), self.model, self.model_version)
        return value

    def download(self, dest: str | os.PathLike[str], progress: Progress = _noop) -> Path:
        return download(self.registry, self.link, dest, progress)

    def __repr__(self) -> str:
        mark = f", {self.link.format}" + (f" [{materializers.CODE_MARK}]" if self.executes_code else "")
        return (f"ArtifactVersion({self.model}@{self.model_version}: {self.link.name} v{self.link.version},"
                f" {self.link.type}{mark}, {self.link.uri})")
