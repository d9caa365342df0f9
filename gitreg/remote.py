"""Git remotes: registries opened by URL, fetch before reads, push-retry for writes.

A registry given as a URL (``https://host/models.git``, ``file:///srv/models.git``,
``git@host:models.git``) is worked on through a bare clone that gitreg keeps in the
user's cache folder.  A registry inside a code repository pushes to the remote that
``.mcp/registry.yaml`` names.  Either way a write is built on the remote's head and
pushed; a push the remote rejects because someone else got there first is retried
on the freshly fetched head.  Every message passes through :func:`redact`, so
credentials embedded in a URL are never printed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import DivergedError, NotARegistryError
from .git import GitRepo, partial
from .git.network import classify, redact

DEFAULT_FRESHNESS = 5.0  # seconds a fetch is trusted for reads of a cached clone

_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_RE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:(?!//)")

_RETRY_MARKERS = (
    "fetch first", "non-fast-forward", "cannot lock ref", "failed to update ref",
    "stale info", "incorrect old value", "reference already exists", "[rejected]",
)


def is_url(text: str | os.PathLike[str]) -> bool:
    """True for a git URL (scheme://... or scp-like user@host:path), False for a path."""
    value = os.fspath(text)
    return bool(_URL_RE.match(value) or _SCP_RE.match(value))


def cache_root() -> Path:
    """Where cached clones live: $GITREG_CACHE_DIR, else $XDG_CACHE_HOME/gitreg, else ~/.cache/gitreg."""
    explicit = os.environ.get("GITREG_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gitreg"


def clone_path(url: str) -> Path:
    """The cached clone of ``url`` (named after the URL without credentials)."""
    clean = redact(url).rstrip("/")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", clean.rsplit("/", 1)[-1].rsplit(":", 1)[-1])
    stem = stem[:-4] if stem.endswith(".git") else stem
    digest = hashlib.sha256(clean.encode("utf-8")).hexdigest()[:12]
    return cache_root() / "clones" / f"{stem or 'registry'}-{digest}.git"


def freshness_window() -> float:
    """Seconds a cached clone's last fetch is trusted for reads ($GITREG_FRESHNESS, default 5)."""
    text = os.environ.get("GITREG_FRESHNESS", "")
    try:
        return max(0.0, float(text)) if text else DEFAULT_FRESHNESS
    except ValueError:
        return DEFAULT_FRESHNESS


@dataclass
class Remote:
    """The remote a registry's branch is shared through."""

    repo: GitRepo
    name: str       # the git remote's name, e.g. "origin"
    branch: str     # the branch on the remote, e.g. "main"
    cached: bool    # True when the whole repository is a cache clone gitreg owns
    synced_at: float = -1e9  # when this process last fetched from or pushed to it (monotonic time)
    push_seconds: float = 0.0  # how long the last push took (a lost race waits in proportion to it)

    @property
    def tracking_ref(self) -> str:
        return f"refs/remotes/{self.name}/{self.branch}"

    @property
    def url(self) -> str:
        return self.repo.remote_url(self.name) or self.name

    def _git(self, doing: str, *args: str) -> str:
        res = self.repo.run(*args, check=False)
        if res.returncode != 0:
            raise classify(self.url, res.stderr.decode("utf-8", "replace"), doing)
        return res.stdout.decode("utf-8", "replace")

    def fetch(self, tag_prefix: str | None = None, scope: str | None = None) -> str | None:
        """Fetch the branch, and gitreg's tags under ``tag_prefix`` (only model ``scope``'s if given).

        Returns the remote's head commit, None if it has no such branch.
        """
        refspecs = [f"+refs/heads/{self.branch}:{self.tracking_ref}"]
        if tag_prefix:
            under = f"{tag_prefix}/{scope}" if scope else tag_prefix
            refspecs.append(f"+refs/tags/{under}/*:refs/tags/{under}/*")
        res = self.repo.run("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.name, *refspecs,
                            check=False)
        if res.returncode != 0:
            err = res.stderr.decode("utf-8", "replace")
            if "couldn't find remote ref" not in err.lower():
                raise classify(self.url, err, f"fetching {self.branch}")
            self.repo.delete_ref(self.tracking_ref)
            # the branch is not there (an empty remote): still bring the tags
            if tag_prefix:
                self._git("fetching tags", "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.name,
                          refspecs[1])
            self.mark_fetched()
            return None
        self.mark_fetched()
        if tag_prefix:
            self._pack_refs(tag_prefix)
        return self.repo.commit_of(self.tracking_ref)

    def fetch_tags(self, tag_prefix: str, scope: str | None = None) -> None:
        """Fetch only gitreg's tags (all, or model ``scope``'s)."""
        under = f"{tag_prefix}/{scope}" if scope else tag_prefix
        self._git("fetching tags", "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.name,
                  f"+refs/tags/{under}/*:refs/tags/{under}/*")
        self._pack_refs(tag_prefix)

    def _pack_refs(self, tag_prefix: str) -> None:
        """Keep a cache clone's tags packed: thousands of loose refs make every fetch slow."""
        if not self.cached:
            return
        try:
            loose = len(os.listdir(self.repo.common_dir / "refs" / "tags" / tag_prefix))
        except OSError:
            return
        if loose > 50:
            self.repo.run("pack-refs", "--all", check=False)

    def push_branch(self, commit: str, branch: str | None = None,
                    extra_refs: Sequence[tuple[str, str]] = ()) -> bool:
        """Push ``commit`` to the remote branch, with ``extra_refs`` (new tags) in the same atomic push.

        ``extra_refs``: (source, remote ref) pairs; a source may be an object id, so a tag
        object can be published without a local ref.

        False when the remote moved on (retry on a fetch) or already had exactly
        this commit from another writer.
        """
        target = branch or self.branch
        specs = [f"{commit}:refs/heads/{target}", *(f"{src}:{dst}" for src, dst in extra_refs)]
        atomic = ["--atomic"] if extra_refs else []
        started = time.monotonic()
        res = self.repo.run("push", "--porcelain", *atomic, self.name, *specs, check=False)
        self.push_seconds = time.monotonic() - started
        out = (res.stdout + res.stderr).decode("utf-8", "replace")
        if res.returncode == 0 and not any(line.startswith("=\t") for line in out.splitlines()):
            if target == self.branch:
                self.repo.update_ref(self.tracking_ref, commit, None, force=True)
                if self.cached:
                    self.mark_fetched()  # the remote's head is known: it is this commit
            return True
        if res.returncode == 0:
            # "[up to date]": another writer pushed the very same commit (same change, parent,
            # author and second) first; it is theirs, so this write must be redone on top of it.
            return False
        if any(marker in out.lower() for marker in _RETRY_MARKERS):
            return False
        raise classify(self.url, out, f"pushing to {target}")

    def push_refs(self, refs: list[str], doing: str) -> None:
        """Push refs (tags, proposal branches) by name, creating them on the remote.

        A remote busy with other pushes may fail to lock its refs for a moment:
        that is retried; anything else is an error.
        """
        for first in range(0, len(refs), 500):
            chunk = [f"{r}:{r}" for r in refs[first:first + 500]]
            for attempt in range(20):
                res = self.repo.run("push", "--porcelain", "--quiet", self.name, *chunk, check=False)
                if res.returncode == 0:
                    break
                out = (res.stdout + res.stderr).decode("utf-8", "replace")
                if "cannot lock ref" not in out and "failed to update ref" not in out:
                    raise classify(self.url, out, doing)
                time.sleep(0.05 * (attempt + 1))
            else:
                raise classify(self.url, out, doing)

    def remote_refs(self, pattern: str) -> set[str]:
        """Names of the remote's refs matching ``pattern`` (e.g. ``refs/tags/models/*``)."""
        out = self._git("listing the remote's refs", "ls-remote", "--refs", self.name, pattern)
        return {line.split("\t", 1)[1] for line in out.splitlines() if "\t" in line}

    # ------------------------------------------------------------ freshness of a cached clone

    def _stamp(self) -> Path:
        return self.repo.common_dir / "gitreg" / "fetched"

    def mark_fetched(self) -> None:
        self.synced_at = time.monotonic()
        stamp = self._stamp()
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()

    def mark_stale(self) -> None:
        try:
            self._stamp().unlink()
        except OSError:
            pass

    def synced_within(self, seconds: float) -> bool:
        """Whether this process fetched from or pushed to the remote in the last ``seconds``."""
        return time.monotonic() - self.synced_at < seconds

    def is_fresh(self, window: float) -> bool:
        try:
            return time.time() - self._stamp().stat().st_mtime < window
        except OSError:
            return False


def base_for_write(repo: GitRepo, remote: Remote, local: str | None, remote_head: str | None) -> str | None:
    """The commit a write must build on: the local branch, or the remote's head when it is ahead.

    Raises :class:`DivergedError` when the two have each moved on, or when the
    remote has commits outside ``.mcp/`` that a code repository's branch lacks
    (gitreg will not move anything but registry files in a work tree).
    """
    if remote_head is None or local == remote_head:
        return local
    if local is None or remote.cached:
        if local is None or repo.is_ancestor(local, remote_head):
            return remote_head
    elif repo.is_ancestor(local, remote_head):
        outside = [p for p in repo.changed_paths(local, remote_head) if not p.startswith(".mcp/")]
        if not outside:
            return remote_head
        raise DivergedError(remote.name, (
            f"{remote.name}/{remote.branch} has commits this branch lacks that change files outside .mcp/"
            f" ({', '.join(outside[:3])}{' ...' if len(outside) > 3 else ''}); `git pull` first, then retry"))
    if repo.is_ancestor(remote_head, local):
        return local
    where = f" (the cached clone at {repo.root}; delete it to start over)" if remote.cached else ""
    raise DivergedError(remote.name, (
        f"the local branch and {remote.name}/{remote.branch} have diverged{where}: each has commits the other"
        " lacks, and gitreg never rewrites history; reconcile them with `git pull --rebase` or a merge, then retry"))


def open_url(url: str) -> tuple[GitRepo, Remote, bool]:
    """The cached bare clone of ``url`` (cloned now if there is none), its remote, and
    whether it must be fetched now (new credentials in the URL since the last use)."""
    path = clone_path(url)
    fresh_clone = False
    if not (path / "HEAD").is_file():
        fresh_clone = _clone(url, path)
    repo = GitRepo(path, path, path, bare=True)
    head = repo.head_ref() or "refs/heads/main"
    branch = head[len("refs/heads/"):] if head.startswith("refs/heads/") else head
    remote = Remote(repo, "origin", branch, cached=True)
    if fresh_clone:  # what the clone brought is the remote's state now: no fetch needed to trust it
        cloned = repo.commit_of(head)
        if cloned is not None and repo.commit_of(remote.tracking_ref) is None:
            repo.update_ref(remote.tracking_ref, cloned, None, message="gitreg: cloned")
        remote.mark_fetched()
    changed = not fresh_clone and remote.url != url
    if changed:  # same repository, other credentials: use these from now on
        repo.run("remote", "set-url", "origin", url)
        remote.mark_stale()
    return repo, remote, changed


def clone_filter() -> str | None:
    """The filter a new cached clone asks the git host for ($GITREG_CLONE_FILTER, default
    ``blob:none``: no file contents until a read needs them; ``none``: a complete clone)."""
    value = os.environ.get("GITREG_CLONE_FILTER", "blob:none").strip()
    return None if value.lower() in ("", "none", "0", "false", "no") else value


def _clone(url: str, path: Path) -> bool:
    """Clone ``url`` to ``path``; True if this call made the clone (False: another process did first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    # Only the registry branch: tags are fetched per model when a read or write needs them, so
    # first use costs what the branch's history costs, not what every model's tags do.  Without
    # file contents where the host allows it: a model's files come when it is read (git/partial.py).
    wanted = clone_filter()
    filtered = [f"--filter={wanted}"] if wanted else []
    proc = GitRepo.start_anywhere(["clone", "--bare", "--quiet", "--no-tags", "--single-branch", *filtered, url,
                                   str(tmp)], cwd=path.parent)
    try:
        from . import manifests

        manifests.prepare()  # while git clones: what the first read needs anyway
        _out, err = proc.communicate()
        said = err.decode("utf-8", "replace")
        if proc.returncode != 0:
            raise classify(url, said, "cloning the registry")
        if wanted:
            _settle_filter(tmp, said)
    except BaseException:  # nothing half-made stays in the cache folder
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    made = True
    try:
        os.chmod(tmp, 0o700)  # the remote URL (maybe with a token) is in its config
        os.rename(tmp, path)
    except OSError:  # another process cloned it first: use theirs
        shutil.rmtree(tmp, ignore_errors=True)
        made = False
    if not (path / "HEAD").is_file():
        raise NotARegistryError(redact(url), "could not set up a local clone of it in " + str(path))
    return made


def _settle_filter(clone: Path, said: str) -> None:
    """After a filtered clone: a host that ignored the filter sent everything (an ordinary clone then);
    else the clone is marked partial, and later fetches bring whole commits (what other writers add
    is small, and its files are read next)."""
    repo = GitRepo(clone, clone, clone, bare=True)
    try:
        repo.run("config", "--unset-all", "remote.origin.partialclonefilter", check=False)
        if "filtering not recognized by server" in said.lower():
            repo.run("config", "--unset-all", "remote.origin.promisor", check=False)
            repo.run("config", "--unset-all", "extensions.partialclone", check=False)
        else:
            partial.mark(clone, "origin")
            # every command reads registry.yaml first: fetch the registry folder's own files now
            # rather than let git fetch the first of them on its own
            top = repo.read_tree("HEAD:.mcp")
            partial.fetch(repo, "origin", [e.oid for e in top[1] if not e.is_tree] if top else [])
    finally:
        repo.close()


__all__ = [
    "Remote", "base_for_write", "cache_root", "classify", "clone_path", "freshness_window", "is_url",
    "clone_filter", "open_url", "redact",
]
