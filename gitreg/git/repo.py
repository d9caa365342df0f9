"""A git repository: discovery, refs, tags, identity, writing objects and commits, housekeeping.

Reads go through :class:`~.reader.ObjectReader` (one long-lived ``git cat-file --batch``);
objects and commits are written in-process as loose objects (ids identical to git's), except
signed ones, which go through ``git commit-tree -S`` / ``git tag``; the branch and an
operation's tags move together in one ``git update-ref --stdin`` transaction.  The work tree
and index are :class:`~.worktree.WorkTree`'s.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from ..errors import BareRepositoryError, GitError, NotARegistryError
from .objects import (BLOB_MODE, TREE_MODE, ZERO_OID, TreeEntry, clean_message, compress_loose, encode_object,
                      format_tree, tree_order)
from . import partial
from .process import CAS_MARKERS, LOCK_HELD, git_env, lock_held_error, run_git, start_git
from .reader import ObjectReader
from .worktree import WorkTree

GC_LOOSE_OBJECTS = 6700  # git's own gc.auto default
REMEMBERED_BLOB_BYTES = 1 << 16  # blobs written up to this size are kept for reading back (manifests)
WRITE_LOCK_POLL = 0.002  # seconds between tries for a held write lock
# Environment variables that change what git reads as configuration (and so identity and signing).
_CONFIG_ENV = ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_COUNT",
               "GIT_CONFIG_PARAMETERS", "HOME", "XDG_CONFIG_HOME", "GIT_DIR")
# Answers of `git config` and `git var`, for every GitRepo of this process, keyed by _config_stamp().
_SHARED: dict[tuple[object, ...], object] = {}
_CONFIG_FILES: dict[tuple[object, ...], tuple[str, ...]] = {}  # (common dir, environment) -> git's config files


@dataclass(frozen=True)
class RefInfo:
    name: str          # e.g. refs/tags/models/iris/v3
    oid: str           # the ref's own object (tag object for annotated tags)
    type: str          # "tag" for annotated tags, "commit" for lightweight ones
    target: str        # the commit it finally points to
    subject: str       # first line of the tag message (annotated) or commit
    body: str
    tagger: str
    date: str          # ISO 8601 (tagger date for tags, committer date otherwise)


@dataclass(frozen=True)
class RefUpdate:
    moved: bool                 # True: every ref moved; False: none did (a ref was not where expected)
    refused: tuple[str, ...]    # the refs git named in its refusal


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
        self._objects_dir = str(common_dir / "objects")
        self._packed: tuple[tuple[int, ...], bytes] | None = None  # packed-refs as last read, with its stamp
        self.worktree = WorkTree(self)
        self._promisor: str | None = partial.promisor(common_dir)  # a blob-less clone's remote
        self._complete: set[str] = set()  # trees known to have every file here

    # ------------------------------------------------------------ discovery

    @classmethod
    def discover(cls, start: str | os.PathLike[str]) -> "GitRepo":
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
    def init(cls, path: str | os.PathLike[str]) -> "GitRepo":
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
        head = self.git_dir / "HEAD"
        try:
            text = head.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise GitError(f"cannot read {head}: {exc}") from None
        if text.startswith("ref: "):
            return text[5:].strip()
        return None

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
        if ref.startswith("refs/heads/") or ref.startswith("refs/remotes/"):
            return self.read_ref(ref)
        if ref == "HEAD":
            branch = self.head_ref()
            if branch is not None:
                return self.read_ref(branch)
        res = self.run("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
        return res.stdout.decode().strip() if res.returncode == 0 else None

    def read_ref(self, ref: str) -> str | None:
        """The object id a (non-symbolic) ref holds, read as git stores it: a loose file, else packed-refs."""
        for folder in (self.git_dir, self.common_dir) if self.git_dir != self.common_dir else (self.common_dir,):
            try:
                text = (folder / ref).read_text(encoding="ascii").strip()
            except (OSError, UnicodeDecodeError):
                continue
            if len(text) == 40 and all(c in "0123456789abcdef" for c in text):
                return text
            if text.startswith("ref: "):  # symbolic: let git follow it
                res = self.run("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
                return res.stdout.decode().strip() if res.returncode == 0 else None
        packed = self._packed_refs()
        if not packed:
            return None
        needle = b" " + ref.encode() + b"\n"
        at = packed.find(needle)
        if at < 40:
            return None
        line_start = packed.rfind(b"\n", 0, at) + 1
        oid = packed[line_start:at].decode("ascii", "replace")
        return oid if len(oid) == 40 else None

    def _packed_refs(self) -> bytes:
        """The packed-refs file, read again only when it changed (git replaces it whole: a new inode)."""
        path = self.common_dir / "packed-refs"
        try:
            st = os.stat(path)
        except OSError:
            return b""
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if self._packed is None or self._packed[0] != stamp:
            try:
                self._packed = (stamp, path.read_bytes())
            except OSError:
                return b""
        return self._packed[1]

    def update_ref(self, ref: str, new: str, old: str | None, message: str = "gitreg",
                   force: bool = False) -> bool:
        """Move ``ref`` to ``new`` only if it still is ``old`` (None: must not exist; force: any)."""
        expected = [] if force else [old or ZERO_OID]
        res = self.run("update-ref", "-m", message, ref, new, *expected, check=False)
        return res.returncode == 0

    def delete_ref(self, ref: str, old: str | None = None) -> bool:
        """Delete ``ref`` (only if it still is ``old``, when given); False if it was not deleted."""
        return self.run("update-ref", "-d", ref, *([old] if old else []), check=False).returncode == 0

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

    def added_by(self, rev: str, path: str) -> list[tuple[str, str, str, str, list[str]]]:
        """Commits in ``rev``'s history that added files under ``path``: (commit, ISO date, author, message,
        the added paths), newest first; one ``git log``."""
        fmt = "%x01%H%x00%aI%x00%an <%ae>%x00%B%x00"
        out = self.run("log", f"--format={fmt}", "--diff-filter=A", "--no-renames", "--name-only", "-z", rev, "--", path,
                       check=False).stdout.decode("utf-8", "replace")
        found = []
        for record in out.split("\x01")[1:]:
            commit, date, author, message, *names = record.split("\0")
            found.append((commit, date, author, message, [n.strip("\n") for n in names if n.strip("\n")]))
        return found

    def rev_list(self, *args: str) -> list[str]:
        return self.out("rev-list", *args).split()

    def config_bool(self, key: str) -> bool:
        """A boolean of git's configuration, remembered (for every GitRepo of this process) while the
        config files and the environment variables that decide it stay the same."""
        cache_key = ("bool", key, *self._config_stamp())
        value = _SHARED.get(cache_key)
        if value is None:
            res = self.run("config", "--type=bool", "--get", key, check=False)
            value = _SHARED[cache_key] = res.returncode == 0 and res.stdout.decode().strip() == "true"
        return bool(value)

    def _config_stamp(self) -> tuple[object, ...]:
        """What git's answer about configuration or identity depends on, as cheaply as it can be seen."""
        env = tuple(os.environ.get(v) for v in _CONFIG_ENV)
        count = env[_CONFIG_ENV.index("GIT_CONFIG_COUNT")]
        if count:  # git reads GIT_CONFIG_KEY_<n> and GIT_CONFIG_VALUE_<n> for n below GIT_CONFIG_COUNT only
            pairs = range(int(count)) if count.isdigit() else range(0)
            env += tuple(os.environ.get(f"GIT_CONFIG_{part}_{n}") for n in pairs for part in ("KEY", "VALUE"))
        files = _CONFIG_FILES.get((self.common_dir, env))
        if files is None:
            files = _CONFIG_FILES[(self.common_dir, env)] = tuple(str(p) for p in self._config_files())
        return (str(self.common_dir), *env, *(_mtime(p) for p in files))

    def list_refs(self, pattern: str) -> list[RefInfo]:
        """Every ref under ``pattern`` (e.g. ``refs/tags/models/iris/``) in one call."""
        fmt = "%00".join([
            "%(refname)", "%(objectname)", "%(objecttype)", "%(*objectname)",
            "%(contents:subject)", "%(contents:body)", "%(taggername) %(taggeremail)",
            "%(if)%(taggerdate)%(then)%(taggerdate:iso-strict)%(else)%(committerdate:iso-strict)%(end)",
        ]) + "%00%00"
        text = self.run("for-each-ref", f"--format={fmt}", pattern).stdout.decode("utf-8", "replace")
        refs = []
        for record in text.split("\0\0\n"):
            if not record.strip("\n"):
                continue
            parts = record.lstrip("\n").split("\0")
            if len(parts) < 8:
                continue
            name, oid, otype, peeled, subject, body, tagger, date = parts[:8]
            refs.append(RefInfo(name, oid, otype, peeled or oid, subject, body.strip("\n"),
                                tagger.strip(), date))
        return refs

    def ref_names(self, pattern: str, merged: str | None = None) -> list[str]:
        """Names of the refs under ``pattern`` (only those reachable from ``merged``, when given).

        A folder pattern (``refs/tags/models/iris/``) without ``merged`` is read from the ref
        files as git keeps them (loose files, then packed-refs), with no process.
        """
        if merged is None and pattern.endswith("/") and pattern.startswith("refs/") and "*" not in pattern:
            return self._ref_files(pattern)
        only = [f"--merged={merged}"] if merged else []
        out = self.run("for-each-ref", "--format=%(refname)", *only, pattern).stdout.decode("utf-8", "replace")
        return [line for line in out.splitlines() if line]

    def _ref_files(self, prefix: str) -> list[str]:
        names: set[str] = set()
        folder = self.common_dir / prefix
        if folder.is_dir():
            for sub, _dirs, files in os.walk(folder):
                rel = Path(sub).relative_to(self.common_dir).as_posix()
                names.update(f"{rel}/{f}" for f in files if not f.endswith(".lock"))
        packed = self._packed_refs()
        needle = b" " + prefix.encode()
        at = packed.find(needle)
        while at != -1:  # packed-refs is sorted: one model's refs stand together
            end = packed.find(b"\n", at)
            names.add(packed[at + 1:end if end != -1 else None].decode("utf-8", "replace"))
            at = packed.find(needle, end) if end != -1 else -1
        return sorted(names)

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
        return self._ident("COMMITTER")

    def _ident(self, role: str) -> str:
        """git's ``GIT_<role>_IDENT``: who, from ``git var`` (remembered while the environment variables and
        config files that decide it stay the same), and when, now (or ``GIT_<role>_DATE`` through git)."""
        if os.environ.get(f"GIT_{role}_DATE"):
            return self._git_var(role)
        key = ("ident", role, *(os.environ.get(v) for v in (f"GIT_{role}_NAME", f"GIT_{role}_EMAIL", "EMAIL")),
               *self._config_stamp())
        who = _SHARED.get(key)
        if who is None:
            who = _SHARED[key] = self._git_var(role).rsplit(" ", 2)[0]
        now = time.time()
        offset = time.localtime(now).tm_gmtoff // 60
        sign = "+" if offset >= 0 else "-"
        return f"{who} {int(now)} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"

    def _git_var(self, role: str) -> str:
        res = self.run("var", f"GIT_{role}_IDENT", check=False)
        if res.returncode != 0:
            raise GitError(
                "git does not know who you are: set `git config user.name` and"
                " `git config user.email` (or GIT_COMMITTER_NAME/GIT_COMMITTER_EMAIL), then retry"
            )
        return res.stdout.decode("utf-8", "replace").strip()

    def _config_files(self) -> tuple[Path, ...]:
        home = Path(os.environ.get("HOME", "~")).expanduser()
        xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        glob = os.environ.get("GIT_CONFIG_GLOBAL")
        system = os.environ.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig"
        return (self.common_dir / "config", Path(glob) if glob else home / ".gitconfig", xdg / "git" / "config",
                Path(system))

    def signs_tags(self) -> bool:
        """Whether git signs annotated tags here (``tag.gpgSign``): such tags are made by ``git tag``."""
        return self.config_bool("tag.gpgSign")

    def write_tag_object(self, name: str, target: str, message: str, ident: str) -> str:
        """Write an annotated tag object for ``target`` without creating its ref; its object id."""
        text = clean_message(message)
        data = (f"object {target}\ntype commit\ntag {name}\ntagger {ident}\n\n{text}").encode("utf-8")
        return self.write_object("tag", data)

    def update_refs(self, updates: Sequence[tuple[str, str, str | None]], message: str = "gitreg") -> RefUpdate:
        """Move every ``(ref, new, old)`` in one transaction: all or none.

        ``old`` None means the ref must not exist yet.  Returns ``moved`` False when a
        ref was not where expected (another writer won, or a tag exists already); any
        other refusal (an invalid ref name, a full disk) raises GitError.

        The transactions go to a long-lived ``git update-ref --stdin`` of this repository (see
        :class:`RefTransactions`), whose reflog entries say ``gitreg`` (the commit's own message says
        what was written), so ``message`` does not reach the reflog.
        """
        lines = "".join(f"update {ref} {new} {old or ZERO_OID}\n" for ref, new, old in updates)
        for attempt in range(25):  # about a second for another git command to let go of a ref lock
            moved, err = self.refs.commit(lines)
            if moved:
                return RefUpdate(True, ())
            held = LOCK_HELD.search(err)
            if held is None:
                break
            time.sleep(0.02 + attempt * 0.002)
        else:
            raise lock_held_error(held.group(1))
        lost = [ref for ref, _new, _old in updates if ref in err]
        if any(marker in err for marker in CAS_MARKERS):
            return RefUpdate(False, tuple(lost))
        raise GitError(f"git could not move {', '.join(ref for ref, _n, _o in updates)}: {err}")

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
        packed = compress_loose(raw)
        for attempt in range(3):
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

    def write_blob(self, data: bytes) -> str:
        return self.write_object("blob", data)

    def write_tree(self, entries: Sequence[TreeEntry], ordered: bool = False) -> str:
        """Write a tree of ``entries`` (``ordered``: in git's order already, as a parsed tree's are)."""
        in_order = list(entries) if ordered else sorted(entries, key=tree_order)
        oid = self.write_object("tree", format_tree(in_order, ordered=True))
        self.reader.remember_tree(oid, in_order)  # what parsing it would give: git's order
        return oid

    def commit_tree(self, tree: str, parents: Sequence[str], message: str) -> str:
        """A commit of ``tree`` (written in-process, or by ``git commit-tree`` when commits are signed)."""
        if not self.signs_commits():
            lines = [f"tree {tree}", *(f"parent {p}" for p in parents),
                     f"author {self._ident('AUTHOR')}", f"committer {self._ident('COMMITTER')}"]
            return self.write_object("commit", ("\n".join(lines) + "\n\n" + message).encode("utf-8"))
        args = ["commit-tree", tree]
        if self.signs_commits():
            args.append("-S")  # commit-tree ignores commit.gpgSign; honour it as `git commit` does
        for parent in parents:
            args += ["-p", parent]
        res = self.run(*args, "-F", "-", input=message.encode("utf-8"), check=False)
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
        return self._apply(root_tree, {tuple(p.split("/")): v for p, v in changes.items()}) or \
            self.write_tree([])

    def _apply(self, tree: str | None, changes: dict[tuple[str, ...], bytes | None]) -> str | None:
        entries = {e.name: e for e in (self.tree_entries(tree) if tree else [])}
        # Entries kept in place keep git's order; a new name, or one turning between file and folder
        # (git orders a folder as "name/"), needs the sort.
        ordered = True

        def put(entry: TreeEntry) -> None:
            nonlocal ordered
            old = entries.get(entry.name)
            if old is None or old.is_tree != entry.is_tree:
                ordered = False
            entries[entry.name] = entry

        nested: dict[str, dict[tuple[str, ...], bytes | None]] = {}
        for parts, data in changes.items():
            if len(parts) == 1:
                if data is None:
                    entries.pop(parts[0], None)
                else:
                    put(TreeEntry(BLOB_MODE, parts[0], self.write_blob(data)))
            else:
                nested.setdefault(parts[0], {})[parts[1:]] = data
        for name, sub in nested.items():
            old = entries.get(name)
            new = self._apply(old.oid if old is not None and old.is_tree else None, sub)
            if new is None:
                entries.pop(name, None)
            else:
                put(TreeEntry(TREE_MODE, name, new))
        if not entries:
            return None
        return self.write_tree(list(entries.values()), ordered=ordered)

    def blobs_under_path(self, commit: str, path: str) -> Iterator[tuple[str, str]]:
        obj = self.read_object(f"{commit}:{path}")
        if obj is None:
            return
        oid, otype, body = obj
        if otype == "blob":
            yield path, oid
        elif otype == "tree":
            stack = [(path, self.reader.parsed(oid, body))]
            while stack:
                prefix, entries = stack.pop()
                for e in entries:
                    if e.is_tree:
                        stack.append((f"{prefix}/{e.name}", self.tree_entries(e.oid)))
                    else:
                        yield f"{prefix}/{e.name}", e.oid

    def blobs_under(self, commit: str | None, paths: Sequence[str]) -> dict[str, str]:
        """Path -> blob id of every file under ``paths`` at ``commit``."""
        out: dict[str, str] = {}
        for path in paths if commit else ():
            out.update(self.blobs_under_path(commit, path))  # type: ignore[arg-type]
        return out

    def changed_files(self, old: str | None, new: str, paths: Sequence[str]) -> dict[str, str | None]:
        """Files under ``paths`` that differ between two commits: path -> blob id at ``new`` (None: gone).

        Walks only the subtrees whose ids differ, so a write's cost stays with what it changed.
        """
        out: dict[str, str | None] = {}
        for path in paths:
            a = self.read_object(f"{old}:{path}") if old else None
            b = self.read_object(f"{new}:{path}")
            self._diff(path, a, b, out)
        return out

    def _diff(self, path: str, a: tuple[str, str, bytes] | None, b: tuple[str, str, bytes] | None,
              out: dict[str, str | None]) -> None:
        if a is not None and b is not None and a[0] == b[0]:
            return
        a_tree = {e.name: e for e in self.reader.parsed(a[0], a[2])} if a is not None and a[1] == "tree" else {}
        b_tree = {e.name: e for e in self.reader.parsed(b[0], b[2])} if b is not None and b[1] == "tree" else {}
        if b is not None and b[1] == "blob":
            out[path] = b[0]
        elif a is not None and a[1] == "blob":
            out[path] = None
        for name in sorted(set(a_tree) | set(b_tree)):
            ea, eb = a_tree.get(name), b_tree.get(name)
            if ea is not None and eb is not None and ea.oid == eb.oid:
                continue
            self._diff(f"{path}/{name}", self.read_object(ea.oid) if ea else None,
                       self.read_object(eb.oid) if eb else None, out)

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
        key = ("gc.auto", *self._config_stamp())
        if key not in _SHARED:
            res = self.run("config", "--get", "gc.auto", check=False)
            text = res.stdout.decode().strip() if res.returncode == 0 else ""
            value = int(text) if text.lstrip("-").isdigit() else GC_LOOSE_OBJECTS
            _SHARED[key] = value if value > 0 else 1 << 62
        return int(_SHARED[key])  # type: ignore[call-overload]

    # ------------------------------------------------------------ locking and cache

    @contextmanager
    def write_lock(self, blocking: bool = True) -> Iterator[bool]:
        """Serialise gitreg writers of this clone (a file lock in the git dir, released if the process dies).

        Yields True once held; with ``blocking`` False, yields False at once when
        another process holds it.  A waiting writer sleeps in the kernel (``flock``) until the
        holder lets go, instead of polling: writers queued behind a busy clone take over at once
        and use no processor while they wait.
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no flock here: filelock's portable lock
            with self._portable_write_lock(blocking) as held:
                yield held
            return
        folder = self.common_dir / "gitreg"
        path = str(folder / "write.lock")
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:
                folder.mkdir(parents=True, exist_ok=True)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                yield False
                return
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except OSError:
                same = False
            if same:
                break
            os.close(fd)  # the file was removed or replaced while this process waited: lock the one there now
        try:
            yield True
        finally:
            os.close(fd)  # releases the lock; the file stays (its inode is what every writer locks)

    @contextmanager
    def _portable_write_lock(self, blocking: bool) -> Iterator[bool]:  # pragma: no cover - platforms without flock
        from filelock import FileLock, Timeout

        folder = self.common_dir / "gitreg"
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder / "write.lock"), timeout=-1 if blocking else 0)
        try:
            lock.acquire(poll_interval=WRITE_LOCK_POLL)
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

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


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


class RefTransactions:
    """One long-lived ``git update-ref --stdin`` per repository, taking one ref transaction after another.

    Each transaction is written whole (``start``, its updates, ``prepare``, ``commit``): git locks
    every ref and checks its old value at ``prepare`` and moves them all at ``commit``, exactly as a
    one-shot ``git update-ref --stdin`` would, without starting a process per write.  A refusal
    makes git exit with its reason; the next transaction starts a new process.  If this process
    dies, git reads the end of its input: a transaction it has read whole is finished, one it has
    not is aborted and its locks released, so no lock is ever left behind.

    git stamps reflog entries with the time it first needed one and keeps it for the rest of the
    process, so a process takes the transactions of one second of the clock only: the next second's
    first transaction starts a new one (at most one process start per second of writing).
    """

    REFLOG_MESSAGE = "gitreg"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None
        self._second = 0  # the second of the clock the process took its first transaction in
        self._owner = os.getpid()
        self._lock = threading.Lock()

    def commit(self, lines: str) -> tuple[bool, str]:
        """Run one transaction of ``update`` lines: (moved, git's words when it refused)."""
        with self._lock:
            for fresh in (False, True):
                proc = self._proc
                if self._owner != os.getpid():  # a forked child must not share its parent's pipes
                    proc, self._owner = None, os.getpid()
                now = int(time.time())
                if proc is not None and self._second != now:  # its reflog time is a second old: retire it
                    self._proc = None
                    self._finish(proc)
                    proc = None
                if proc is None or proc.poll() is not None or fresh:
                    proc = self._proc = subprocess.Popen(
                        ["git", "update-ref", "-m", self.REFLOG_MESSAGE, "--stdin"], cwd=self.root,
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=git_env())
                    fresh = True
                    self._second = now
                assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
                answers: list[bytes] = []
                try:
                    proc.stdin.write(("start\n" + lines + "prepare\ncommit\n").encode("utf-8", "surrogateescape"))
                    proc.stdin.flush()
                    for _ in range(3):
                        answer = proc.stdout.readline()
                        if not answer:
                            break
                        answers.append(answer)
                except OSError:
                    pass
                if answers == [b"start: ok\n", b"prepare: ok\n", b"commit: ok\n"]:
                    return True, ""
                self._proc = None
                err = self._finish(proc)
                if answers or err or fresh:
                    return False, err or "git update-ref stopped answering"
                # a process that had died since the last transaction (nothing was sent to a live one): once more
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _finish(proc: "subprocess.Popen[bytes]") -> str:
        """Stop a process that refused (it exits by itself after saying why): its words."""
        try:
            proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err = proc.stderr.read() if proc.stderr is not None else b""  # type: ignore[union-attr]
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        return err.decode("utf-8", "replace").strip()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or self._owner != os.getpid():
            return
        self._finish(proc)
