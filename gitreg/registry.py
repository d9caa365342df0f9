"""The registry: ties the git repository, the manifests and the artifact store.

Reads take a :class:`~gitreg.state.Snapshot` of the branch head.  Writes are
transactions: a pure function computes a :class:`Change` from a snapshot, the
change becomes one commit whose parent is that snapshot's commit, and the
branch moves only if it still points there (compare-and-swap); otherwise the
function runs again on the new head.  Tags follow the commit; the work tree
and index of the touched ``.mcp/`` paths are brought in line at the end.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .errors import AlreadyExistsError, ConcurrentWriteError, DirtyManifestsError, GitError, NotARegistryError
from .gitrepo import GitRepo
from .manifests import RegistryConfig, dump
from .state import MCP, REGISTRY_PATH, Snapshot

if TYPE_CHECKING:
    from .store import ArtifactStore

DEFAULT_STORE = ".gitreg/store"
DEFAULT_TAG_PREFIX = "models"
MAX_ATTEMPTS = 200


@dataclass
class Change:
    """What one logical operation writes: one commit, maybe tags."""

    message: str
    files: dict[str, bytes | None] = field(default_factory=dict)
    tags: list[tuple[str, str]] = field(default_factory=list)  # (name, message)
    paths: list[str] = field(default_factory=list)  # .mcp/ folders to bring in line
    result: Any = None


@dataclass(frozen=True)
class Committed:
    commit: str | None  # None when the operation changed nothing
    result: Any
    tags: tuple[str, ...] = ()


class Registry:
    def __init__(self, repo: GitRepo) -> None:
        self.repo = repo
        self._store: ArtifactStore | None = None
        self._store_uri: str | None = None

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> "Registry":
        """The registry of the repository at/above ``path`` ($GITREG_REPO, else the cwd)."""
        where = path if path is not None else os.environ.get("GITREG_REPO") or os.getcwd()
        registry = cls(GitRepo.discover(where))
        registry.snapshot().config  # noqa: B018 - fail early with NotARegistryError
        return registry

    @classmethod
    def init(cls, path: str | os.PathLike[str] | None = None, store: str | None = None,
             tag_prefix: str = DEFAULT_TAG_PREFIX) -> "Registry":
        """Create ``.mcp/registry.yaml`` (and the git repository if there is none)."""
        where = Path(path if path is not None else os.getcwd())
        try:
            repo = GitRepo.discover(where)
        except NotARegistryError:
            repo = GitRepo.init(where)
        registry = cls(repo)
        config = RegistryConfig(store=store or DEFAULT_STORE, tag_prefix=tag_prefix)

        def build(snap: Snapshot) -> Change:
            if snap.commit and repo.resolve(f"{snap.commit}:{REGISTRY_PATH}"):
                raise AlreadyExistsError("gitreg registry", str(repo.root))
            return Change(
                message=f"gitreg: initialise the registry\n\nstore: {config.store}\ntag-prefix: {config.tag_prefix}\n",
                files={REGISTRY_PATH: dump("registry", config, REGISTRY_PATH)},
                paths=[REGISTRY_PATH],
            )

        registry.transact(build)
        return registry

    @property
    def root(self) -> Path:
        return self.repo.root

    # ------------------------------------------------------------ reading

    def snapshot(self) -> Snapshot:
        return Snapshot(self.repo, self.repo.resolve("HEAD"))

    @property
    def config(self) -> RegistryConfig:
        return self.snapshot().config

    def store(self, config: RegistryConfig | None = None) -> "ArtifactStore":
        from .store import ArtifactStore

        config = config or self.config
        if self._store is None or self._store_uri != config.store:
            options = dict(config.options.get("storage_options") or {})
            self._store = ArtifactStore(config.store, self.root, options)
            self._store_uri = config.store
        return self._store

    # ------------------------------------------------------------ writing

    def transact(self, build: Callable[[Snapshot], Change | None]) -> Committed:
        """Run ``build`` on the branch head and commit its change (compare-and-swap)."""
        repo = self.repo
        with repo.write_lock():
            busy = repo.operation_in_progress()
            if busy is not None:
                raise GitError(f"a git {busy} is in progress here; finish or abort it, then retry")
            branch = repo.head_ref()
            if branch is None:
                raise GitError("HEAD is detached; check out the branch that holds the registry, then retry")
            checked_dirty = False
            for attempt in range(MAX_ATTEMPTS):
                head = repo.commit_of(branch)
                snap = Snapshot(repo, head)
                change = build(snap)
                if change is None or not change.files:
                    return Committed(None, change.result if change is not None else None)
                if not checked_dirty:
                    dirty = repo.dirty_paths(head, change.paths)
                    if dirty:
                        raise DirtyManifestsError(dirty)
                    checked_dirty = True
                root_tree = repo.resolve(f"{head}^{{tree}}") if head else None
                tree = repo.update_paths(root_tree, change.files)
                commit = repo.commit_tree(tree, [head] if head else [], change.message)
                if repo.update_ref(branch, commit, head, message=change.message.splitlines()[0]):
                    break
                time.sleep(random.uniform(0.0, 0.02 * min(attempt + 1, 10)))
            else:
                raise ConcurrentWriteError(
                    f"gave up after {MAX_ATTEMPTS} attempts: {branch} kept moving under this write"
                )
            snap.seed_successor(commit, change.files)
            created = tuple(name for name, message in change.tags if repo.create_tag(name, commit, message))
            # Bring .mcp/ of the index and work tree in line with the branch head.
            if repo.head_ref() == branch:
                repo.sync_paths(repo.commit_of(branch) or commit, change.paths or [MCP])
        repo.maybe_gc()
        return Committed(commit, change.result, created)
