"""The registry: ties the git repository, the manifests and the artifact store.

Reads take a :class:`~gitreg.state.Snapshot` of the branch head.  Writes are
transactions: a pure function computes a :class:`Change` from a snapshot, the
change becomes one commit whose parent is that snapshot's commit, and the
branch moves only if it still points there (compare-and-swap); otherwise the
function runs again on the new head.  Tags follow the commit; the work tree
and index of the touched ``.mcp/`` paths are brought in line at the end.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import journal
from .attributes import ATTRIBUTES_PATH, pinned_attributes
from .errors import (
    AlreadyExistsError,
    ConcurrentWriteError,
    DirtyManifestsError,
    GitError,
    InvalidValueError,
    ManifestError,
    NotARegistryError,
    RemoteError,
)
from .git import Author, GitRepo, lock_held_error
from .journal import PendingWrite, Recovery
from .layout import MCP, REGISTRY_PATH
from .manifests import RegistryConfig, dump
from .remote import Remote, base_for_write, freshness_window, is_url, open_url, redact
from .state import Snapshot

if TYPE_CHECKING:
    from .migrate import Migration
    from .store import ArtifactStore

DEFAULT_STORE = ".gitreg/store"
DEFAULT_TAG_PREFIX = "models"
MAX_ATTEMPTS = 200
JUST_SYNCED = 2.0  # a fetch or push this recent (in this process) is as good as one more fetch
CONTENDED_SECONDS = 30.0  # after a lost race, writes by URL fetch before every attempt for this long

log = logging.getLogger("gitreg")


@dataclass
class Change:
    """What one logical operation writes: one commit, maybe tags."""

    message: str
    files: dict[str, bytes | None] = field(default_factory=dict)
    tags: list[tuple[str, str]] = field(default_factory=list)  # (name, message)
    paths: list[str] = field(default_factory=list)  # .mcp/ folders to bring in line
    result: Any = None
    author: Author | None = None  # who made it and when, if not whoever runs gitreg now (an import)


@dataclass(frozen=True)
class Committed:
    commit: str | None  # None when the operation changed nothing
    result: Any
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Base:
    """What a write builds on: the snapshot, its commit and tree, and the files a migration commit wrote
    (empty when the registry needed none; the migration commit is ``commit`` and is not landed yet)."""

    snap: Snapshot
    commit: str | None
    tree: str | None
    migrated: dict[str, bytes | None]


@dataclass(frozen=True)
class Proposal:
    """A change written as the single commit of a new branch, for review in a pull request."""

    branch: str          # e.g. gitreg/promote/iris-v3-production
    commit: str
    base: str            # the registry branch's commit it was built on
    target: str          # the registry branch it is meant to merge into, e.g. main
    remote: str | None   # the remote it was pushed to (None: not pushed)
    message: str
    result: Any = None


class Registry:
    def __init__(self, repo: GitRepo, remote: Remote | None = None) -> None:
        self.repo = repo
        self.remote = remote
        self._store: ArtifactStore | None = None
        self._store_uri: str | None = None
        self._tag_prefix: str | None = None
        self._contended_until = 0.0  # until then, writes fetch before their first attempt (monotonic time)

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, refresh: bool = False,
             readable: bool = True) -> Registry:
        """The registry at ``path``: a URL (cached clone), or the repository at/above a folder.

        Default: $GITREG_REPO, else the current folder.  ``readable``: the checked-out registry.yaml must
        read (``gitreg check`` opens any repository, to report what is wrong with it instead).
        """
        where = path if path is not None else os.environ.get("GITREG_REPO") or os.getcwd()
        if is_url(where):
            repo, remote, changed = open_url(os.fspath(where))
            registry = cls(repo, remote)
            registry.finish_interrupted()
            if refresh or changed or not remote.synced_within(JUST_SYNCED):  # not just cloned
                registry.refresh(force=True if refresh or changed else None)
            else:
                registry._check_remote_registry()
            return registry
        registry = cls(GitRepo.discover(where))
        try:
            config = registry.snapshot().config  # fails early with NotARegistryError
        except (NotARegistryError, ManifestError):
            if readable:
                raise
        else:
            if config.remote:
                registry.remote = registry._code_remote(config.remote)
        registry.finish_interrupted()
        return registry

    def _code_remote(self, name: str) -> Remote:
        return self.remote_named(name, f".mcp/registry.yaml says writes push to the remote {name!r}")

    def remote_named(self, name: str, why: str) -> Remote:
        """The git remote ``name`` of this repository, for the current branch; ``why`` it is needed."""
        if self.repo.remote_url(name) is None:
            raise RemoteError(name, f"{why}, but this repository has no such remote; add it with"
                                    f" `git remote add {name} URL`")
        head = self.repo.head_ref() or ""
        branch = head[len("refs/heads/"):] if head.startswith("refs/heads/") else "main"
        return Remote(self.repo, name, branch, cached=False)

    @classmethod
    def init(cls, path: str | os.PathLike[str] | None = None, store: str | None = None,
             tag_prefix: str = DEFAULT_TAG_PREFIX, remote: str | None = None,
             store_options: dict[str, Any] | None = None) -> Registry:
        """Create ``.mcp/registry.yaml`` and gitreg's pinned ``.mcp/.gitattributes`` (and the git repository if
        there is none); ``store_options`` become its ``options: storage_options:`` (checked by the caller, see
        Client.init)."""
        config = RegistryConfig(store=store or DEFAULT_STORE, tag_prefix=tag_prefix, remote=remote,
                                options={"storage_options": store_options} if store_options else {})
        if path is not None and is_url(path):
            registry = cls._init_by_url(os.fspath(path), config)
        else:
            where = Path(path if path is not None else os.getcwd())
            try:
                repo = GitRepo.discover(where)
            except NotARegistryError:
                repo = GitRepo.init(where)
            registry = cls(repo)
            if remote:
                registry.remote = registry._code_remote(remote)
                registry._tag_prefix = tag_prefix
        repo = registry.repo

        def build(snap: Snapshot) -> Change:
            if snap.commit and repo.resolve(f"{snap.commit}:{REGISTRY_PATH}"):
                raise AlreadyExistsError("gitreg registry", str(repo.root))
            return Change(
                message=f"gitreg: initialise the registry\n\nstore: {config.store}\ntag-prefix: {config.tag_prefix}\n",
                files={ATTRIBUTES_PATH: pinned_attributes(), REGISTRY_PATH: dump("registry", config, REGISTRY_PATH)},
                paths=[ATTRIBUTES_PATH, REGISTRY_PATH],
            )

        registry.transact(build)
        return registry

    @classmethod
    def _init_by_url(cls, url: str, config: RegistryConfig) -> Registry:
        """A registry created on the remote at ``url`` (an empty repository, or one without a registry):
        its first commit is pushed to the remote's default branch through a cached clone."""
        if config.remote:
            raise InvalidValueError("--remote (remote=) names a git remote of a code repository; a registry created"
                                    " by URL pushes to that URL: leave it out")
        if "://" not in config.store and not os.path.isabs(config.store):
            raise InvalidValueError(
                f"a registry created by URL is used from many machines, so its artifacts need a shared store, not"
                f" the folder {config.store!r}: give --store s3://..., gs://..., az://... (store=) or an absolute path")
        repo, remote, _changed = open_url(url)
        registry = cls(repo, remote)
        registry._tag_prefix = config.tag_prefix
        return registry

    @property
    def root(self) -> Path:
        return self.repo.root

    @property
    def location(self) -> str:
        """What to call this registry in messages: its URL (no credentials) or its folder."""
        return redact(self.remote.url) if self.remote is not None and self.remote.cached else str(self.root)

    # ------------------------------------------------------------ reading

    def refresh(self, force: bool | None = True) -> None:
        """Bring a cached clone up to date with its remote (None: only if the last fetch is stale)."""
        remote = self.remote
        if remote is None or not remote.cached:
            return
        if force is None and remote.is_fresh(freshness_window()):
            if self._tag_prefix is not None:
                return
        else:
            with self.repo.write_lock():
                remote_head = remote.fetch()
                branch = self.repo.head_ref() or f"refs/heads/{remote.branch}"
                local = self.repo.commit_of(branch)
                if remote_head is not None and local != remote_head:
                    base = base_for_write(self.repo, remote, local, remote_head)
                    self.repo.update_ref(branch, base or remote_head, local, message="gitreg: fetched")
        self._check_remote_registry()

    def _check_remote_registry(self) -> None:
        """The cached clone holds a registry: its branch exists and has .mcp/registry.yaml."""
        remote = self.remote
        assert remote is not None
        if self.repo.commit_of(remote.tracking_ref) is None:
            raise NotARegistryError(redact(remote.url), (
                f"the remote has no branch {remote.branch!r} (an empty repository?): create a registry with"
                " `gitreg init`, push it there, then retry"))
        try:
            config = Snapshot(self.repo, self.repo.resolve("HEAD")).config
        except NotARegistryError:
            raise NotARegistryError(redact(remote.url), (
                f"a git repository, but not a gitreg registry: branch {remote.branch!r} has no .mcp/registry.yaml"
                " (create one with `gitreg init` in a clone, then push)")) from None
        self._tag_prefix = config.tag_prefix

    def fetch_tags(self, model: str | None = None) -> None:
        """Bring gitreg's tags (all, or one model's) from the remote of a registry opened by URL."""
        if self.remote is not None and self.remote.cached:
            self.remote.fetch_tags(self.snapshot().config.tag_prefix, model)

    def snapshot(self) -> Snapshot:
        if self.remote is not None and self.remote.cached:
            self.refresh(force=None)
        return Snapshot(self.repo, self.repo.commit_of("HEAD"))  # from the ref files: no round trip to git

    @property
    def config(self) -> RegistryConfig:
        return self.snapshot().config

    def store(self, config: RegistryConfig | None = None) -> ArtifactStore:
        from .store import ArtifactStore

        config = config or self.config
        if self.remote is not None and self.remote.cached and "://" not in config.store \
                and not os.path.isabs(config.store):
            raise InvalidValueError(
                f"the registry at {self.location} keeps artifacts in {config.store!r}, a folder relative to its"
                " repository; opened by URL there is no such folder. Set `store:` in .mcp/registry.yaml to a"
                " shared URI (s3://..., gs://..., or an absolute path)")
        if self._store is None or self._store_uri != config.store:
            options = dict(config.options.get("storage_options") or {})
            self._store = ArtifactStore(config.store, self.root, options)
            self._store_uri = config.store
        return self._store

    # ------------------------------------------------------------ writing

    def _branch(self) -> str:
        repo = self.repo
        busy = repo.operation_in_progress() if not repo.bare else None
        if busy is not None:
            raise GitError(f"a git {busy} is in progress here; finish or abort it, then retry")
        branch = repo.head_ref()
        if branch is None:
            raise GitError("HEAD is detached; check out the branch that holds the registry, then retry")
        return branch

    def _base(self, branch: str, scope: str | None, attempt: int = 0) -> tuple[str | None, str | None]:
        """(the local branch's commit, the commit to build on): fetched first when there is a remote.

        A registry opened by URL whose cached clone is fresh (fetched, or pushed to, within the
        freshness window) and that saw no rejected push lately builds its first attempt on what
        it has: the push is a compare-and-swap on the remote branch, so a stale guess costs a
        rejected push and a retry on the fetched head, never a lost or reused number.
        """
        local = self.repo.commit_of(branch)
        remote = self.remote
        if remote is None:
            return local, local
        if self._tag_prefix is None:
            try:
                self._tag_prefix = Snapshot(self.repo, local).config.tag_prefix if local else DEFAULT_TAG_PREFIX
            except NotARegistryError:  # being initialised
                self._tag_prefix = DEFAULT_TAG_PREFIX
        if attempt == 0 and remote.cached and time.monotonic() >= self._contended_until \
                and (remote.synced_within(JUST_SYNCED) or remote.is_fresh(freshness_window())):
            remote_head = self.repo.commit_of(remote.tracking_ref)
            if remote_head is not None:
                return local, base_for_write(self.repo, remote, local, remote_head)
        remote_head = remote.fetch(self._tag_prefix, scope)
        return local, base_for_write(self.repo, remote, local, remote_head)

    def transact(self, build: Callable[[Snapshot], Change | None], scope: str | None = None,
                 migrate: bool = True) -> Committed:
        """Run ``build`` on the branch head and commit its change (compare-and-swap, pushed if shared).

        ``scope``: the model the change is about, if one; with a remote only its tags are fetched.
        ``migrate``: a registry in an older format is upgraded first, by a commit of its own (see
        :mod:`gitreg.migrate`) that lands with the change's commit, which is built on it.

        Two locks, always taken in this order: the write lock while the change is built and its commit
        made, and the sync lock from the dirty check until ``.mcp/`` of the index and work tree match the
        new branch head. The write lock is let go once the refs moved, so the next writer builds its
        commit while this one brings the work tree in line; it checks and lands only after that.

        Crash safety: before any ref moves, a journal records the write (see
        :mod:`gitreg.journal`); the branch and the operation's tags then move in one
        ref transaction (pushed first, atomically, when shared), and the journal is
        cleared once ``.mcp/`` of the index and work tree match the branch. A journal
        whose writer holds no sync lock any more is one that died: the next writer finishes it.
        """
        repo = self.repo
        with ExitStack() as synced:  # the sync lock, once taken: let go before a retry, else at the very end
            with repo.write_lock():
                self._finish_locked()
                branch = self._branch()
                checked: set[str] = set()  # paths already proven free of uncommitted edits
                # what the last dirty check found in line with which commit, and the index's stamp then
                verified: tuple[str | None, list[str], object, dict[str, Any]] = (None, [], None, {})
                for attempt in range(MAX_ATTEMPTS):
                    local, base = self._base(branch, scope, attempt)
                    root_tree = repo.resolve(f"{base}^{{tree}}") if base else None
                    start = self._upgraded(Snapshot(repo, base), root_tree, migrate)
                    snap, parent, root_tree, upgraded = start.snap, start.commit, start.tree, start.migrated
                    change = build(snap)
                    if change is None or not change.files:
                        if base is not None and base != local and self.remote is not None and self.remote.cached:
                            repo.update_ref(branch, base, local)
                        return Committed(None, change.result if change is not None else None)
                    # Building on a fetched head (or a migration) moves all of .mcp/ forward, not just the change's.
                    touched = change.paths if base == local and not upgraded else [MCP]
                    tree = repo.update_paths(root_tree, change.files)
                    written = repo.blob_ids({**upgraded, **change.files})
                    commit = repo.commit_tree(tree, [parent] if parent else [], change.message, change.author)
                    # The work tree and index are the last write's until its sync ends: wait for it.
                    synced.enter_context(repo.sync_lock())
                    if journal.pending(repo):
                        self._recover()  # its writer died after its journal was written
                    unchecked = [p for p in touched if p not in checked]
                    if unchecked:
                        dirty, in_line, seen = repo.worktree.check_paths(local, unchecked)
                        if dirty:
                            raise DirtyManifestsError(dirty)
                        checked.update(unchecked)
                        verified = (local, in_line, repo.worktree.index_stamp(), {**verified[3], **seen})
                    if not repo.bare and not repo.worktree.wait_for_index():
                        raise lock_held_error(repo.git_dir / "index.lock")
                    created = self._land(branch, local, base, commit, change, touched)
                    if created is not None:
                        break
                    synced.close()
                    self._contended_until = time.monotonic() + CONTENDED_SECONDS
                    time.sleep(self._backoff(attempt))
                else:
                    raise ConcurrentWriteError(
                        f"gave up after {MAX_ATTEMPTS} attempts: {branch} kept moving under this write"
                    )
                snap.seed_successor(commit, change.files)  # (the migrated snapshot, when there was a migration)
            # The next writer builds its change now, and waits for the sync lock to check and land it.
            self._sync(branch, local, base, commit, touched, verified, written)
            if ATTRIBUTES_PATH in upgraded and not repo.bare:
                # git checked .mcp/ out through the clone's attributes until now; from here on its bytes stay
                repo.worktree.rewrite_exact(MCP)
        repo.maybe_gc()
        return Committed(commit, change.result, created)

    def _upgraded(self, snap: Snapshot, tree: str | None, migrate: bool) -> _Base:
        """What to build on: ``snap`` itself, or, when it is in an older format and ``migrate``, the commit
        that upgrades it (not landed yet)."""
        from .migrate import migration_change

        upgrade = migration_change(snap) if migrate else None
        if upgrade is None:
            return _Base(snap, snap.commit, tree, {})
        new_tree = self.repo.update_paths(tree, upgrade.files)
        commit = self.repo.commit_tree(new_tree, [snap.commit] if snap.commit else [], upgrade.message)
        return _Base(Snapshot(self.repo, commit), commit, new_tree, dict(upgrade.files))

    def migrate(self) -> Migration | None:
        """Upgrade the registry to the format this gitreg writes, in one commit, adding whatever a registry in
        that format lacks of its files: a :class:`gitreg.migrate.Migration`, or None when nothing was."""
        from .migrate import migration_change

        def build(snap: Snapshot) -> Change | None:
            upgrade = migration_change(snap, complete=True)
            if upgrade is None:
                return None
            return Change(upgrade.message, dict(upgrade.files), paths=[MCP], result=upgrade.result)

        done: Migration | None = self.transact(build, migrate=False).result
        return done

    def _backoff(self, attempt: int) -> float:
        """How long a write that lost a race waits before its next attempt: a random share ("full
        jitter") of a window that doubles with each lost attempt, in units of what one attempt costs
        (a push, when shared: so that the writers that lost spread out instead of racing again at once)."""
        unit = max(0.01, self.remote.push_seconds if self.remote is not None else 0.0)
        return random.uniform(0.0, unit * min(2 ** attempt, 16))

    def _land(self, branch: str, local: str | None, base: str | None, commit: str, change: Change,
              touched: list[str]) -> tuple[str, ...] | None:
        """Move the branch (pushing first when shared) and create the tags; None if another writer won.

        Unsigned tags are written as objects first and get their refs in the same ref
        transaction as the branch (when shared: only once the push went through), so a
        commit never lands without its tags and no tag ever names a commit that did
        not land.  Signed tags are made by ``git tag`` (git signs them as it creates
        the ref) just before the move and removed again if it fails; the journal
        removes them if the process dies in between.
        """
        repo = self.repo
        signed = bool(change.tags) and repo.signs_tags()
        objects: list[tuple[str, str]] = []  # (tag name, tag object id) whose refs are still to make
        # the tags of a change made at another time (an import) are dated then too, as `tags sync` dates the tags
        # it makes after the fact: history reads when from the tags; the tagger is whoever runs gitreg
        when = change.author.date() if change.author is not None else None
        if change.tags and not signed:
            ident = repo.tagger_ident()
            if when is not None:
                ident = f"{ident.rsplit(' ', 2)[0]} {when}"
            objects = [(name, repo.write_tag_object(name, commit, message, ident)) for name, message in change.tags]
        journal.record(repo, PendingWrite(branch, local, commit, tuple(touched),
                                          tuple(name for name, _m in change.tags) if signed else (),
                                          tuple(objects)))
        made: list[str] = []
        try:
            if signed:
                made = [name for name, message in change.tags
                        if repo.create_tag(name, commit, message, date=f"@{when}" if when else None)]
            if self.remote is None:
                created = self._move(branch, base, commit, objects)
            else:
                specs = [(oid, f"refs/tags/{name}") for name, oid in objects]
                specs += [(f"refs/tags/{name}", f"refs/tags/{name}") for name in made]
                pushed = self.remote.push_branch(commit, extra_refs=specs)
                created = self._move(branch, local, commit, objects, pushed=True) if pushed else None
        except BaseException:
            self._unmake(made)
            if repo.commit_of(branch) != commit:
                journal.clear(repo)  # nothing landed here: nothing for the next command to finish
            raise
        if created is None:
            self._unmake(made)
            journal.clear(repo)
            return None
        return tuple(made) + created

    def _unmake(self, tags: list[str]) -> None:
        """Remove tags made for a commit that did not land."""
        for name in tags:
            ref = f"refs/tags/{name}"
            self.repo.delete_ref(ref, self.repo.resolve(ref))

    def _move(self, branch: str, expected: str | None, commit: str, objects: list[tuple[str, str]],
              pushed: bool = False) -> tuple[str, ...] | None:
        """One ref transaction: the branch from ``expected`` to ``commit`` and the new tags' refs.

        Returns the tags created, None if the branch was not at ``expected`` (the write is
        redone).  A tag that exists already is never moved: it is left out, with a warning.
        ``pushed``: the commit is on the remote already, so a local branch that moved
        meanwhile is left alone and only the tags are made.
        """
        repo = self.repo
        tags = list(objects)
        move_branch = True
        while True:
            if pushed and move_branch and repo.commit_of(branch) != expected:
                assert self.remote is not None
                log.warning("%s moved while pushing; the registry commit %s is on %s/%s, `git pull` to get it",
                            branch, commit[:12], self.remote.name, self.remote.branch)
                move_branch = False
            updates = ([(branch, commit, expected)] if move_branch else []) + \
                [(f"refs/tags/{name}", oid, None) for name, oid in tags]
            if not updates:
                return ()
            if repo.update_refs(updates).moved:
                return tuple(name for name, _oid in tags)
            taken = [(name, oid) for name, oid in tags if repo.resolve(f"refs/tags/{name}") is not None]
            if not taken:
                if pushed:
                    continue  # the local branch moved between the check and the update
                return None
            for name, _oid in taken:
                log.warning("tag %s exists already and is never moved; the commit %s goes without it",
                            name, commit[:12])
            tags = [t for t in tags if t not in taken]

    def _sync(self, branch: str, local: str | None, base: str | None, commit: str, touched: list[str],
              verified: tuple[str | None, list[str], object, dict[str, Any]] = (None, [], None, {}),
              written: Mapping[str, str | None] | None = None) -> None:
        """Bring .mcp/ of the index and work tree in line with the branch head, then clear the journal.

        ``verified``: (the commit, the paths the dirty check found in line with it, the index's stamp then,
        the stat records of the work-tree files it read and found equal).  ``written``: the blob id of each
        file the commit wrote, when it removed none (so they are all it changed, maybe with some unchanged)."""
        repo = self.repo
        if repo.bare or repo.head_ref() != branch:
            journal.clear(repo)
            return
        head = repo.commit_of(branch) or commit
        # What the index already matched stays matched when this commit changed nothing outside ``touched``,
        # and so do the paths this write found in line, if nobody has touched the index since.
        only_touched = head == commit and base == local
        before = repo.worktree.index_note(local) if only_touched else None
        checked_at, in_line, stamp, seen = verified
        if not (only_touched and checked_at == local and stamp == repo.worktree.index_stamp()):
            in_line = []
        if only_touched and written is not None:
            changed: Mapping[str, str | None] = written  # this commit's own files: no need to compare trees
        else:
            changed = repo.changed_files(local, head, touched)
        if repo.worktree.set_files(changed):
            repo.worktree.note_index_synced(head, touched, changed,
                                            also=[*(before["paths"] if before else ()), *in_line], seen=seen)
            journal.clear(repo)
        else:
            log.warning("the registry commit %s is made, but .git/index.lock is held by another git command, so"
                        " .mcp/ in the work tree is behind; the next gitreg command brings it in line once the"
                        " lock is gone (remove it if no git command is running)", commit[:12])

    def finish_interrupted(self, blocking: bool = False) -> Recovery | None:
        """Finish what a write that died left undone (see :mod:`gitreg.journal`); None if nothing was.

        Cheap when there is nothing to do (one stat).  Not ``blocking``: skipped while
        another process holds the write lock or the sync lock (a write in progress finishes itself).
        """
        if not journal.pending(self.repo):
            return None
        with self.repo.write_lock(blocking=blocking) as held:
            return self._finish_locked(blocking) if held else None

    def _finish_locked(self, blocking: bool = False) -> Recovery | None:
        """Under the write lock: finish a write that died. One whose writer still holds the sync lock is
        alive (bringing its work tree in line): left to finish itself, or waited for if ``blocking``."""
        if not journal.pending(self.repo):
            return None
        with self.repo.sync_lock(blocking=blocking) as held:
            return self._recover() if held else None

    def _recover(self) -> Recovery | None:
        """Under both locks: finish the write the journal records, if any."""
        repo = self.repo
        write = journal.read(repo)
        if write is None:
            return None
        if not repo.bare:
            repo.worktree.clear_leftovers()  # what a writer killed while editing the index left
        remote = self.remote

        def published(commit: str) -> bool:
            if remote is None:
                return False
            tracking = repo.commit_of(remote.tracking_ref)
            return tracking is not None and repo.is_ancestor(commit, tracking)

        done = journal.recover(repo, write, published)
        if not done.unfinished:
            journal.clear(repo)
        line = done.summary(write.branch[len("refs/heads/"):])
        if line:
            log.warning("%s", line)
        return done

    def propose(self, build: Callable[[Snapshot], Change | None], branch_for: Callable[[Any], str],
                scope: str | None = None) -> Proposal:
        """Write ``build``'s change as the one commit of a new branch; the registry branch stays put."""
        repo = self.repo
        with repo.write_lock():
            branch = self._branch()
            _local, base = self._base(branch, scope)
            if base is None:
                raise NotARegistryError(str(self.root), "nothing is committed yet; run `gitreg init`")
            start = self._upgraded(Snapshot(repo, base), repo.resolve(f"{base}^{{tree}}"), True)
            snap, parent, root_tree = start.snap, start.commit, start.tree
            assert parent is not None  # base is a commit: so is the commit built on it
            change = build(snap)
            if change is None or not change.files:
                raise InvalidValueError("nothing to propose: the registry already is that way")
            branch_name = branch_for(change.result)
            tree = repo.update_paths(root_tree, change.files)
            commit = repo.commit_tree(tree, [parent], change.message, change.author)
            ref = f"refs/heads/{branch_name}"
            if not repo.update_ref(ref, commit, None, message="gitreg: propose " + change.message.splitlines()[0]):
                raise AlreadyExistsError("branch", branch_name + f" (delete it with `git branch -D {branch_name}`"
                                                               " to propose anew)")
            if self.remote is not None and not self.remote.push_branch(commit, branch_name):
                repo.delete_ref(ref, commit)
                raise AlreadyExistsError(f"branch on {self.remote.name}", branch_name +
                                         " (a proposal with that name is open; merge or delete it first)")
            target = self.remote.branch if self.remote is not None else branch[len("refs/heads/"):]
        return Proposal(branch_name, commit, base, target, self.remote.name if self.remote else None,
                        change.message, change.result)
