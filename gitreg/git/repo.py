"""A git repository: discovery, commands, reading and writing objects and commits, tags, housekeeping.

Reads go through :class:`~.reader.ObjectReader` (one long-lived ``git cat-file --batch``);
objects and commits are written in-process as loose objects (ids identical to git's), except
signed ones, which go through ``git commit-tree -S`` / ``git tag``: the ``objects`` fast path
(see :mod:`gitreg.fastpaths`), whose reference writes every object with ``git hash-object -w``,
``git mktree`` and ``git commit-tree``.  :class:`GitRepo` is the one
handle callers hold; the concerns that fill a module of their own live beside it and it delegates
to them: refs and their transactions (:mod:`.refs`), the write lock (:mod:`.lock`), configuration
and identity (:mod:`.config`), tree edits and diffs (:mod:`.trees`), blob-less clones
(:mod:`.partial`), the work tree and index (:class:`~.worktree.WorkTree`).
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from ..errors import BareRepositoryError, GitError, NotARegistryError
from ..fastpaths import fast
from . import config as _config
from . import lock as _lock
from . import partial
from . import refs as _refs
from . import trees as _trees
from .config import Author
from .objects import Added, TreeEntry, blob_id, clean_message, compress_loose, encode_object, format_tree, tree_order
from .process import run_git, start_git
from .reader import ObjectReader
from .refs import PackedRefs, RefInfo, RefTransactions, RefUpdate
from .worktree import WorkTree

REMEMBERED_BLOB_BYTES = 1 << 16  # blobs written up to this size are kept for reading back (manifests)


class GitRepo:
    """A git repository with a work tree (or bare), addressed by its top folder."""

    def __init__(self, root: Path, git_dir: Path, common_dir: Path, bare: bool = False) -> None:
        self.root = root
        self.git_dir = git_dir
        self.common_dir = common_dir
        self.bare = bare
        if (common_dir / "reftable").is_dir():
            # refs are read from their files (loose, then packed-refs): a reftable repository
            # (git 2.45+) would look as if it had no refs at all
            raise GitError(
                f"{common_dir} keeps its refs in git's reftable format, which gitreg does not read; convert it"
                " with `git refs migrate --ref-format=files` (git 2.46+) or use a clone made with the files"
                " format (`git clone --ref-format=files`)")
        self.reader = ObjectReader(root)
        self.refs = RefTransactions(root)
        self.packed_refs = PackedRefs(common_dir)
        self._objects_dir = str(common_dir / "objects")
        self.worktree = WorkTree(self)
        self._promisor: str | None = partial.promisor(common_dir)  # a blob-less clone's remote
        self._complete: set[str] = set()  # trees known to have every file here
        # what the layers above remember of this repository in this process, by their own key (the reads'
        # memo of models read and written: gitreg.state.memo); owned here so that it lives and dies with it
        self.memos: dict[str, object] = {}

    # ------------------------------------------------------------ discovery

    @classmethod
    def discover(cls, start: str | os.PathLike[str]) -> GitRepo:
        """Find the repository containing ``start`` (walking upwards); a bare one is refused, saying what to do."""
        path = Path(start).resolve()
        if not path.exists():
            raise NotARegistryError(str(start), "no such directory")
        here = path if path.is_dir() else path.parent
        for folder in (here, *here.parents):
            dotgit = folder / ".git"
            if dotgit.is_dir():
                return cls(folder, dotgit, dotgit)
            if folder.name != ".git" and (folder / "HEAD").is_file() and (folder / "objects").is_dir() \
                    and (folder / "refs").is_dir():
                # A bare repository (no work tree): never walk past it into a repository around it.
                raise BareRepositoryError(str(start), (
                    f"{folder} is a bare git repository (no work tree); work on it by URL, e.g."
                    f" `gitreg --repo {folder.as_uri()} ...` (a cached clone), or run gitreg in a clone of it"))
            if dotgit.is_file():  # linked worktree or submodule: "gitdir: <path>"
                text = dotgit.read_text(encoding="utf-8").strip()
                if text.startswith("gitdir:"):
                    git_dir = (folder / text[len("gitdir:"):].strip()).resolve()
                    common = git_dir
                    common_file = git_dir / "commondir"
                    if common_file.is_file():
                        common = (git_dir / common_file.read_text().strip()).resolve()
                    return cls(folder, git_dir, common)
        raise NotARegistryError(
            str(start), "not inside a git repository; run `gitreg init` there to create a registry"
        )

    @classmethod
    def init(cls, path: str | os.PathLike[str]) -> GitRepo:
        folder = Path(path).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        run_git(["git", "init", "-q", str(folder)], cwd=folder)
        return cls(folder, folder / ".git", folder / ".git")

    # ------------------------------------------------------------ commands

    def run(self, *args: str, input: bytes | None = None, check: bool = True,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        return run_git(["git", *args], cwd=self.root, input=input, check=check, env=env)

    @staticmethod
    def run_anywhere(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
        """A git command outside any repository (clone, ls-remote); never raises on failure."""
        return run_git(["git", *args], cwd=cwd, check=False)

    @staticmethod
    def start_anywhere(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
        """Start a git command outside any repository and return at once."""
        return start_git(["git", *args], cwd=cwd)

    def out(self, *args: str, input: bytes | None = None) -> str:
        return self.run(*args, input=input).stdout.decode("utf-8", "replace").strip()

    # ------------------------------------------------------------ refs

    def head_ref(self) -> str | None:
        """The ref HEAD points to (``refs/heads/<branch>``), or None when detached."""
        return _refs.head_ref(self.git_dir)

    def operation_in_progress(self) -> str | None:
        """The git operation (merge, rebase, ...) this work tree is in the middle of, if any."""
        for marker, name in (("MERGE_HEAD", "merge"), ("CHERRY_PICK_HEAD", "cherry-pick"),
                             ("REVERT_HEAD", "revert"), ("rebase-merge", "rebase"),
                             ("rebase-apply", "rebase or am"), ("BISECT_LOG", "bisect")):
            if (self.git_dir / marker).exists():
                return name
        return None

    def resolve(self, rev: str) -> str | None:
        """Object id of ``rev`` (e.g. a ref or ``<commit>:<path>``) or None."""
        header = self.reader.one(rev)
        return header[0] if header else None

    def commit_of(self, ref: str) -> str | None:
        """The commit ``ref`` points to (None: no such ref).  Branch refs are read from the ref files."""
        return _refs.commit_of(self, ref)

    def read_ref(self, ref: str) -> str | None:
        """The object id a (non-symbolic) ref holds, read as git stores it: a loose file, else packed-refs."""
        return _refs.read_ref(self, ref)

    def list_refs(self, pattern: str) -> list[RefInfo]:
        """Every ref under ``pattern`` (e.g. ``refs/tags/models/iris/``) in one call."""
        return _refs.list_refs(self, pattern)

    def ref_names(self, pattern: str, merged: str | None = None) -> list[str]:
        """Names of the refs under ``pattern`` (only those reachable from ``merged``, when given)."""
        return _refs.ref_names(self, pattern, merged)

    def update_ref(self, ref: str, new: str, old: str | None, message: str = "gitreg",
                   force: bool = False) -> bool:
        """Move ``ref`` to ``new`` only if it still is ``old`` (None: must not exist; force: any)."""
        return _refs.update_ref(self, ref, new, old, message, force)

    def update_refs(self, updates: Sequence[tuple[str, str, str | None]]) -> RefUpdate:
        """Move every ``(ref, new, old)`` in one transaction: all or none (see :func:`.refs.update_refs`;
        the reflog entries say ``gitreg``)."""
        return _refs.update_refs(self.refs, updates)

    def delete_ref(self, ref: str, old: str | None = None) -> bool:
        """Delete ``ref`` (only if it still is ``old``, when given); False if it was not deleted."""
        return _refs.delete_ref(self, ref, old)

    def remote_url(self, name: str) -> str | None:
        """The URL configured for remote ``name``, or None if there is no such remote."""
        res = self.run("remote", "get-url", name, check=False)
        return res.stdout.decode("utf-8", "replace").strip() if res.returncode == 0 else None

    def index_tree(self) -> str:
        """The tree the index would commit (``git write-tree``)."""
        res = self.run("write-tree", check=False)
        if res.returncode != 0:
            raise GitError("the index has unresolved conflicts; resolve them, then retry")
        return res.stdout.decode().strip()

    def code_state(self, source: str | os.PathLike[str] | None = None) -> tuple[str | None, bool]:
        """(HEAD commit, whether tracked files differ from it): what code a pipeline run ran (see code_dirty)."""
        head = self.commit_of("HEAD")
        if head is None or self.bare:
            return head, False
        return head, self.code_dirty(source)

    def code_dirty(self, source: str | os.PathLike[str] | None = None) -> bool:
        """Whether tracked files differ from HEAD, the registry's own files (``.mcp/``: data, not code) aside.

        ``source``, the file that defined the pipeline, counts too: untracked (or ignored), the
        commit does not hold it, so the code is dirty.  git status runs without its optional index
        refresh (GIT_OPTIONAL_LOCKS=0), so it never holds the index's lock against a registry write,
        and may run while one goes on.
        """
        quiet = {"GIT_OPTIONAL_LOCKS": "0"}
        res = self.run("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude).mcp",
                       check=False, env=quiet)
        if res.stdout.strip():
            return True
        if source is not None:
            tracked = self.run("ls-files", "--error-unmatch", "--", os.fspath(source), check=False)
            return tracked.returncode != 0
        return False

    def is_ancestor(self, ancestor: str, commit: str) -> bool:
        return self.run("merge-base", "--is-ancestor", ancestor, commit, check=False).returncode == 0

    def changed_paths(self, old: str, new: str) -> list[str]:
        """Paths that differ between two commits."""
        out = self.run("diff", "--name-only", "--no-renames", "-z", old, new).stdout.decode("utf-8", "replace")
        return [p for p in out.split("\0") if p]

    def added_by(self, rev: str, path: str) -> list[Added]:
        """Commits in ``rev``'s history that added files under ``path``, newest first; one ``git log``."""
        fmt = "%x01%H%x00%aI%x00%an <%ae>%x00%B%x00"
        out = self.run("log", f"--format={fmt}", "--diff-filter=A", "--no-renames", "--name-only", "-z", rev, "--",
                       path, check=False).stdout.decode("utf-8", "replace")
        found = []
        for record in out.split("\x01")[1:]:
            commit, date, author, message, *names = record.split("\0")
            found.append(Added(commit, date, author, message, tuple(n.strip("\n") for n in names if n.strip("\n"))))
        return found

    def rev_list(self, *args: str) -> list[str]:
        return self.out("rev-list", *args).split()

    def config_bool(self, key: str) -> bool:
        """A boolean of git's configuration, remembered while what decides it stays the same."""
        return _config.config_bool(self, key)

    def identity(self) -> str:
        """``Name <email>`` of the committer git would record (env and config applied)."""
        text = self.tagger_ident()
        return text.rsplit(" ", 2)[0] if text.count(" ") >= 2 else text

    def create_tag(self, name: str, target: str, message: str, date: str | None = None) -> bool:
        """Create the annotated tag ``name``; False if it already exists (never moved).

        ``date`` (git's date format) sets the tagger date, e.g. to the date of the
        commit a tag is created for after the fact.
        """
        env = {"GIT_COMMITTER_DATE": date} if date else None
        res = self.run("tag", "-a", "-F", "-", name, target, input=message.encode("utf-8"), check=False, env=env)
        if res.returncode == 0:
            return True
        if self.resolve(f"refs/tags/{name}") is not None:
            return False
        raise GitError(f"git tag {name} failed: {res.stderr.decode('utf-8', 'replace').strip()}")

    def tagger_ident(self) -> str:
        """``Name <email> <seconds> <tz>`` as git would record a tagger now (env and config applied)."""
        return _config.ident(self, "COMMITTER")

    def signs_tags(self) -> bool:
        """Whether git signs annotated tags here (``tag.gpgSign``): such tags are made by ``git tag``."""
        return self.config_bool("tag.gpgSign")

    def write_tag_object(self, name: str, target: str, message: str, ident: str) -> str:
        """Write an annotated tag object for ``target`` without creating its ref; its object id."""
        text = clean_message(message)
        data = (f"object {target}\ntype commit\ntag {name}\ntagger {ident}\n\n{text}").encode()
        return self.write_object("tag", data)

    # ------------------------------------------------------------ blob-less clones

    @property
    def is_partial(self) -> bool:
        """Whether this is a blob-less clone that may lack files (see :mod:`.partial`)."""
        return self._promisor is not None

    def prefetch(self, trees: Sequence[str]) -> None:
        """Fetch, in one request, every file under ``trees`` (tree ids) that this clone lacks.

        Nothing to do (and no process run) in a complete clone; each tree is checked once per process.
        """
        if self._promisor is None:
            return
        todo = [t for t in dict.fromkeys(trees) if t not in self._complete]
        if todo:
            partial.fetch(self, self._promisor, partial.missing(self, todo))
            self._complete.update(todo)

    def prefetch_blobs(self, oids: Sequence[str]) -> None:
        """Fetch the blobs ``oids`` in one request if this clone may lack them (git skips what it has)."""
        if self._promisor is not None and oids:
            partial.fetch(self, self._promisor, sorted(set(oids)))

    def complete_clone(self) -> None:
        """Fetch every file this blob-less clone lacks, after which it is an ordinary clone
        (for operations that read the whole registry)."""
        if self._promisor is None:
            return
        partial.fetch(self, self._promisor, partial.missing(self, None))
        partial.unmark(self.common_dir)
        self._promisor = None

    # ------------------------------------------------------------ objects

    def read_blobs(self, revs: Sequence[str]) -> list[bytes | None]:
        """Contents of many blobs in one pipelined exchange (None where missing)."""
        return [obj[2] if obj is not None and obj[1] == "blob" else None for obj in self.reader.ask(revs)]

    def read_object(self, rev: str) -> tuple[str, str, bytes] | None:
        """(oid, type, content) of ``rev`` or None if it does not exist."""
        return self.reader.one(rev)

    def read_blob(self, rev: str) -> tuple[str, bytes] | None:
        obj = self.reader.one(rev)
        if obj is None or obj[1] != "blob":
            return None
        return obj[0], obj[2]

    def read_tree(self, rev: str) -> tuple[str, list[TreeEntry]] | None:
        obj = self.reader.one(rev)
        if obj is None or obj[1] != "tree":
            return None
        return obj[0], self.reader.parsed(obj[0], obj[2])

    def tree_entries(self, oid: str) -> list[TreeEntry]:
        """Entries of a tree known to exist (a missing one means a damaged repository)."""
        tree = self.read_tree(oid)
        if tree is None:
            raise GitError(f"tree {oid} is missing from the repository; run `git fsck`")
        return tree[1]

    def write_object(self, otype: str, data: bytes) -> str:
        """Write a loose object (as git does: zlib, then a read-only file named by its id); its id."""
        if not fast("objects"):
            oid = self._git_writes(["hash-object", "-w", "--no-filters", "-t", otype, "--stdin"], data)
            if otype != "blob" or len(data) <= REMEMBERED_BLOB_BYTES:
                self.reader.remember(oid, otype, data)
            return oid
        oid, raw = encode_object(otype, data)
        if otype != "blob" or len(data) <= REMEMBERED_BLOB_BYTES:  # a write reads back what it just wrote
            self.reader.remember(oid, otype, data)
        folder = os.path.join(self._objects_dir, oid[:2])  # strings, not Paths: a write makes many objects
        path = os.path.join(folder, oid[2:])
        try:
            os.utime(path)  # there already: freshen it, as git does, so that no prune takes it now
            return oid
        except OSError:
            pass
        tmp = os.path.join(folder, f"tmp_obj_{os.getpid()}_{threading.get_ident()}")
        packed = compress_loose(raw, otype)
        for _attempt in range(3):
            try:
                with open(tmp, "wb") as fh:
                    fh.write(packed)
                os.chmod(tmp, 0o444)
                os.replace(tmp, path)
                return oid
            except FileNotFoundError:
                # the fan-out folder is not there (yet, or any more: git's gc removes emptied ones)
                try:
                    os.makedirs(folder, exist_ok=True)
                except OSError as exc:
                    raise GitError(f"cannot write to {folder}: {exc}; check permissions and free disk space") \
                        from None
            except OSError as exc:
                raise GitError(f"cannot write to {self._objects_dir}: {exc}; check permissions and free"
                               " disk space") from None
        raise GitError(f"cannot write to {folder}: it keeps disappearing (is a `git gc` or prune running?);"
                       " retry")

    def _git_writes(self, args: list[str], data: bytes) -> str:
        """The id of the object the git command ``args`` writes from ``data`` (the ``objects`` reference)."""
        res = self.run(*args, input=data, check=False)
        if res.returncode != 0:
            raise GitError(f"cannot write to {self._objects_dir}: git {args[0]} failed:"
                           f" {res.stderr.decode('utf-8', 'replace').strip()}; check permissions and free disk space")
        return res.stdout.decode("ascii").strip()

    def write_blob(self, data: bytes) -> str:
        return self.write_object("blob", data)

    def write_tree(self, entries: Sequence[TreeEntry]) -> str:
        """Write a tree of ``entries`` (in any order: a tree's entries are put in git's)."""
        if not fast("objects"):  # git mktree puts the entries in git's order; --missing: a blob-less clone's too
            listing = b"".join(e.mode.encode() + (b" tree " if e.is_tree else b" commit " if e.mode == "160000"
                                                  else b" blob ") + e.oid.encode() + b"\t"
                               + e.name.encode("utf-8", "surrogateescape") + b"\0" for e in entries)
            return self._git_writes(["mktree", "-z", "--missing"], listing)
        in_order = sorted(entries, key=tree_order)
        oid = self.write_object("tree", format_tree(in_order, ordered=True))
        self.reader.remember_tree(oid, in_order)  # what parsing it would give: git's order
        return oid

    def commit_tree(self, tree: str, parents: Sequence[str], message: str, author: Author | None = None) -> str:
        """A commit of ``tree`` (written in-process, or by ``git commit-tree`` when commits are signed or the
        ``objects`` fast path is off).  ``author``: who made the change and when, if not whoever runs gitreg
        now (an imported event); the committer is always git's identity here, now."""
        if fast("objects") and not self.signs_commits():
            who = author.ident() if author is not None else _config.ident(self, "AUTHOR")
            lines = [f"tree {tree}", *(f"parent {p}" for p in parents),
                     f"author {who}", f"committer {_config.ident(self, 'COMMITTER')}"]
            return self.write_object("commit", ("\n".join(lines) + "\n\n" + message).encode("utf-8"))
        args = ["commit-tree", tree]
        if self.signs_commits():
            args.append("-S")  # commit-tree ignores commit.gpgSign; honour it as `git commit` does
        for parent in parents:
            args += ["-p", parent]
        env = author.environment() if author is not None else None
        res = self.run(*args, "-F", "-", input=message.encode("utf-8"), check=False, env=env)
        if res.returncode != 0:
            err = res.stderr.decode("utf-8", "replace").strip()
            if "tell me who you are" in err or "empty ident" in err:
                raise GitError(
                    "git does not know who you are: set `git config user.name` and"
                    " `git config user.email` (or GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL), then retry"
                )
            raise GitError(f"git commit-tree failed: {err}")
        return res.stdout.decode().strip()

    def signs_commits(self) -> bool:
        return self.config_bool("commit.gpgSign")

    def verify_tag(self, name: str) -> tuple[bool, str]:
        """Whether the tag carries a good signature (git's gpg/ssh configuration applies), and git's words."""
        res = self.run("verify-tag", "--raw", name, check=False)
        text = res.stderr.decode("utf-8", "replace").strip()
        return res.returncode == 0, text.splitlines()[-1] if text else ""

    def update_paths(self, root_tree: str | None, changes: Mapping[str, bytes | None]) -> str:
        """New root tree: ``root_tree`` with files written (bytes) or removed (None: a file or folder)."""
        return _trees.update_paths(self, root_tree, changes)

    def blob_ids(self, files: Mapping[str, bytes | None]) -> dict[str, str | None] | None:
        """The blob id of each file of ``files`` (as written by :meth:`update_paths`); None when one is a
        removal (a removed path may be a folder, whose files only the trees know)."""
        ids: dict[str, str | None] = {}
        for path, data in files.items():
            if data is None:
                return None
            ids[path] = blob_id(data)
        return ids

    def blobs_under_path(self, commit: str, path: str) -> Iterator[tuple[str, str]]:
        return _trees.blobs_under_path(self, commit, path)

    def blobs_under(self, commit: str | None, paths: Sequence[str]) -> dict[str, str]:
        """Path -> blob id of every file under ``paths`` at ``commit``."""
        return _trees.blobs_under(self, commit, paths)

    def changed_files(self, old: str | None, new: str, paths: Sequence[str]) -> dict[str, str | None]:
        """Files under ``paths`` that differ between two commits: path -> blob id at ``new`` (None: gone)."""
        return _trees.changed_files(self, old, new, paths)

    def maybe_gc(self) -> None:
        """Let git pack loose objects and refs once they pile up.

        Plumbing never triggers git's automatic housekeeping, so a registry
        written only by gitreg would collect loose objects forever.  Like
        ``git gc --auto`` itself, estimate from one fan-out folder first.
        """
        try:
            loose = len(os.listdir(self.common_dir / "objects" / "17"))
        except OSError:
            return
        if loose > 1 and loose * 256 > self.gc_threshold():
            self.run("gc", "--auto", "--quiet", check=False)

    def gc_threshold(self) -> int:
        """git's gc.auto (0 disables automatic housekeeping), read once."""
        return _config.gc_threshold(self)

    # ------------------------------------------------------------ locking and cache

    def write_lock(self, blocking: bool = True) -> AbstractContextManager[bool]:
        """Serialise gitreg writers of this clone (see :func:`.lock.write_lock`): yields True once held;
        with ``blocking`` False, yields False at once when another process holds it."""
        return _lock.write_lock(self.common_dir, blocking)

    def sync_lock(self, blocking: bool = True) -> AbstractContextManager[bool]:
        """Held by a writer while its refs move and its work tree and index are brought in line (see
        :func:`.lock.sync_lock`); taken after the write lock, never before it."""
        return _lock.sync_lock(self.common_dir, blocking)

    @property
    def cache_dir(self) -> Path:
        return self.common_dir / "gitreg" / "cache"

    def close(self) -> None:
        self.reader.close()
        self.refs.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

