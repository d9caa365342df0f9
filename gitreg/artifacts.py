"""Artifacts: Python objects and files into the store and back, verified.

Ties the materializers to the store; the registry records the links.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import materializers
from .errors import InvalidValueError
from .manifests import ARTIFACT_TYPES, ArtifactLink

if TYPE_CHECKING:
    from .registry import Registry
    from .store import StoredObject

Progress = Callable[[int], None]


def _noop(_: int) -> None:
    pass


def check_type(artifact_type: str) -> str:
    if artifact_type not in ARTIFACT_TYPES:
        raise InvalidValueError(
            f"unknown artifact type {artifact_type!r}; expected one of: {', '.join(ARTIFACT_TYPES)}"
        )
    return artifact_type


def save_object(registry: "Registry", obj: Any, name: str, artifact_type: str | None,
                run: str | None = None, step: str | None = None) -> ArtifactLink:
    """Serialise ``obj`` with its materializer and store it; the link is not committed yet."""
    with tempfile.TemporaryDirectory(prefix="gitreg-") as tmp:
        path = Path(tmp) / "artifact"
        materializer = materializers.save(obj, path)
        stored = registry.store().put_file(path)
    if artifact_type is None:
        artifact_type = "model" if materializer.model_kind else "data"
    return _link(name, check_type(artifact_type), stored, materializer.format, False, run, step)


def save_path(registry: "Registry", path: str | os.PathLike[str], name: str, artifact_type: str,
              progress: Progress = _noop) -> ArtifactLink:
    """Store a local file or directory as is (format ``file`` / ``directory``)."""
    src = Path(path)
    if not src.exists():
        raise InvalidValueError(f"{path}: no such file or directory")
    store = registry.store()
    stored = store.put_directory(src, progress) if src.is_dir() else store.put_file(src, progress)
    return _link(name, check_type(artifact_type), stored, stored.kind, False)


def describe_uri(registry: "Registry", uri: str, name: str, artifact_type: str) -> ArtifactLink:
    """Link an existing URI in place: hashed now, verified on every load."""
    stored = registry.store().describe_external(uri)
    return _link(name, check_type(artifact_type), stored, stored.kind, True)


def _link(name: str, artifact_type: str, stored: "StoredObject", fmt: str, external: bool,
          run: str | None = None, step: str | None = None) -> ArtifactLink:
    return ArtifactLink(name=name, version=1, type=artifact_type, uri=stored.uri, sha256=stored.sha256,
                        size=stored.size, format=fmt, kind=stored.kind, external=external, run=run, step=step)


def download(registry: "Registry", link: ArtifactLink, dest: str | os.PathLike[str],
             progress: Progress = _noop) -> Path:
    """Copy the artifact's bytes to ``dest`` (a file, or a folder for directories), verified."""
    store = registry.store()
    dest = Path(dest)
    if link.kind == "directory":
        if link.external:
            return store.fetch_external_directory(link.uri, link.sha256, dest)
        return store.fetch_directory(link.uri, link.sha256, dest, progress)
    return store.fetch_file(link.uri, link.sha256, dest, progress)


def load(registry: "Registry", link: ArtifactLink) -> Any:
    """The artifact as a Python object (files and directories: a verified local path)."""
    if link.format in materializers.PATH_FORMATS:
        target = registry.repo.cache_dir.parent / "artifacts" / link.sha256
        if link.kind == "file":
            target = target / (Path(link.uri).name or "artifact")
        if not target.exists():
            scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=_mkdir(target.parent)))
            try:
                download(registry, link, scratch / "x")
                os.replace(scratch / "x", target)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        return target
    with tempfile.TemporaryDirectory(prefix="gitreg-") as tmp:
        path = registry.store().fetch_file(link.uri, link.sha256, Path(tmp) / "artifact")
        return materializers.load(link.format, path, verified=True)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class ArtifactVersion:
    """An artifact linked to a model version, with ways to get its content."""

    link: ArtifactLink
    model: str
    model_version: int
    registry: "Registry"

    def __getattr__(self, item: str) -> Any:  # name, version, type, uri, sha256, size, ...
        return getattr(self.link, item)

    def load(self) -> Any:
        return load(self.registry, self.link)

    def download(self, dest: str | os.PathLike[str], progress: Progress = _noop) -> Path:
        return download(self.registry, self.link, dest, progress)

    def __repr__(self) -> str:
        return (f"ArtifactVersion({self.model}@{self.model_version}: {self.link.name} v{self.link.version},"
                f" {self.link.type}, {self.link.uri})")
