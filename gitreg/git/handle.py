"""What the modules below :class:`~.repo.GitRepo` need of a repository, as a protocol.

``GitRepo`` is built from these modules (config, refs, trees, the work tree, partial clones), and they
take the repository they work on as an argument.  Typing that argument as this protocol rather than
as ``GitRepo`` keeps the imports pointing one way: ``repo`` imports them, none of them imports ``repo``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from .objects import TreeEntry
from .reader import ObjectReader


class RepoHandle(Protocol):
    """The part of :class:`~.repo.GitRepo` that its own modules use."""

    root: Path
    git_dir: Path
    common_dir: Path
    bare: bool
    reader: ObjectReader

    def run(self, *args: str, input: bytes | None = None, check: bool = True,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]: ...

    def remote_url(self, name: str) -> str | None: ...

    def read_blobs(self, revs: Sequence[str]) -> list[bytes | None]: ...

    def read_object(self, rev: str) -> tuple[str, str, bytes] | None: ...

    def tree_entries(self, oid: str) -> list[TreeEntry]: ...

    def write_blob(self, data: bytes) -> str: ...

    def write_tree(self, entries: Sequence[TreeEntry]) -> str: ...

    def blobs_under_path(self, commit: str, path: str) -> Iterator[tuple[str, str]]: ...
